-- Drops a leftover shadow of p_table and creates an empty one with the same columns, defaults,
-- NOT NULL and CHECK constraints and storage parameters (e.g. fillfactor, which LIKE does not
-- copy), but no indexes (they are built after the bulk load).
-- p_unlogged: UNLOGGED while loading (rebuild_log_shadow sets it LOGGED again).
CREATE OR REPLACE FUNCTION rebuild_create_shadow(p_table text, p_unlogged boolean)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_options text;
BEGIN
  SELECT array_to_string(reloptions, ', ') INTO v_options FROM pg_class
   WHERE oid = p_table::regclass;
  EXECUTE format('DROP TABLE IF EXISTS %I', p_table || '_shadow');
  EXECUTE format('CREATE %s TABLE %I (LIKE %I INCLUDING ALL EXCLUDING INDEXES)%s',
                 CASE WHEN p_unlogged THEN 'UNLOGGED' ELSE '' END, p_table || '_shadow', p_table,
                 CASE WHEN v_options IS NULL OR v_options = '' THEN ''
                      ELSE ' WITH (' || v_options || ')' END);
END
$fn$;
