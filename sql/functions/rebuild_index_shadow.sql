-- Builds on the shadow one index of the live table (same definition, named
-- rebuild_shadow_index_name(p_index)); a primary key or unique constraint is re-attached with
-- ADD CONSTRAINT ... USING INDEX. One call per index, each in its own short transaction.
CREATE OR REPLACE FUNCTION rebuild_index_shadow(p_table text, p_index text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_shadow text := p_table || '_shadow';
  v_name   text := rebuild_shadow_index_name(p_index);
  v_def    text;
  v_type   "char";
  v_new    text;
BEGIN
  SELECT pg_get_indexdef(i.indexrelid), con.contype INTO v_def, v_type
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
   WHERE i.indrelid = p_table::regclass AND c.relname = p_index;
  IF v_def IS NULL THEN
    RAISE EXCEPTION 'rebuild: % has no index %', p_table, p_index;
  END IF;
  v_new := regexp_replace(v_def, '^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+ USING ',
                          'CREATE \1INDEX ' || quote_ident(v_name) || ' ON ' ||
                          quote_ident(v_shadow) || ' USING ');
  IF v_new = v_def THEN
    RAISE EXCEPTION 'rebuild: cannot re-target index definition %', v_def;
  END IF;
  EXECUTE format('DROP INDEX IF EXISTS %I', v_name);
  EXECUTE v_new;
  IF v_type = 'p' THEN
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY USING INDEX %I',
                   v_shadow, v_name, v_name);
  ELSIF v_type = 'u' THEN
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I UNIQUE USING INDEX %I',
                   v_shadow, v_name, v_name);
  END IF;
END
$fn$;
