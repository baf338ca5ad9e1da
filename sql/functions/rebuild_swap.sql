-- The swap, inside the caller's transaction: drops the live table, renames the shadow to the
-- live name and its indexes (and so their constraints) to the live names. Callers hold the
-- projection's cutover lock; ALTER/DROP take ACCESS EXCLUSIVE on both tables, so a query sees
-- either the old table or the new one, never neither.
CREATE OR REPLACE FUNCTION rebuild_swap(p_table text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_shadow  text := p_table || '_shadow';
  v_names   text[];
  v_missing text[];
  v_name    text;
BEGIN
  EXECUTE format('LOCK TABLE %I, %I IN ACCESS EXCLUSIVE MODE', p_table, v_shadow);
  SELECT coalesce(array_agg(c.relname ORDER BY c.relname), '{}') INTO v_names
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE i.indrelid = p_table::regclass;
  SELECT coalesce(array_agg(n), '{}') INTO v_missing
    FROM unnest(v_names) AS n
   WHERE NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                      WHERE i.indrelid = v_shadow::regclass
                        AND c.relname = rebuild_shadow_index_name(n));
  IF cardinality(v_missing) > 0 THEN
    RAISE EXCEPTION 'rebuild: shadow of % lacks indexes %', p_table, v_missing;
  END IF;
  EXECUTE format('DROP TABLE %I', p_table);
  EXECUTE format('ALTER TABLE %I RENAME TO %I', v_shadow, p_table);
  FOREACH v_name IN ARRAY v_names LOOP
    EXECUTE format('ALTER INDEX %I RENAME TO %I', rebuild_shadow_index_name(v_name), v_name);
  END LOOP;
END
$fn$;
