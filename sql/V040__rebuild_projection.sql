-- rebuild-projection: shadow tables built beside the live read-model tables, compared with them,
-- and swapped in atomically. The DDL lives here (identifiers quoted with format('%I')); the
-- read-side only calls these functions with parameters.
--
-- Naming: the shadow of table T is T_shadow; the shadow's copy of T's index I is named
-- rebuild_shadow_index_name(I), and the swap renames it back to I (so primary-key and unique
-- constraint names follow, and the next rebuild finds the same names).

CREATE OR REPLACE FUNCTION rebuild_shadow_index_name(p_index text) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT left(p_index, 48) || '_shadow'
$fn$;

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

CREATE OR REPLACE FUNCTION rebuild_drop_shadow(p_table text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  EXECUTE format('DROP TABLE IF EXISTS %I', p_table || '_shadow');
END
$fn$;

-- The live table's indexes (names), in a stable order.
CREATE OR REPLACE FUNCTION rebuild_live_indexes(p_table text)
RETURNS SETOF text LANGUAGE sql STABLE AS $fn$
  SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE i.indrelid = p_table::regclass ORDER BY c.relname
$fn$;

-- Builds on the shadow one index of the live table (same definition, named
-- rebuild_shadow_index_name(p_index)); a primary key or unique constraint is re-attached with
-- ADD CONSTRAINT ... USING INDEX. One call per index, each in its own short transaction (a long
-- write transaction would hold back the relay's sequencing horizon).
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

-- After the COPY and before the indexes (SET LOGGED rewrites the table and every index on it):
-- a shadow loaded UNLOGGED is made LOGGED, so the swap is crash-safe.
CREATE OR REPLACE FUNCTION rebuild_log_shadow(p_table text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_shadow text := p_table || '_shadow';
BEGIN
  IF (SELECT relpersistence FROM pg_class WHERE oid = v_shadow::regclass) = 'u' THEN
    EXECUTE format('ALTER TABLE %I SET LOGGED', v_shadow);
  END IF;
END
$fn$;

-- After the indexes: statistics, so the planner is right from the first query after the swap.
CREATE OR REPLACE FUNCTION rebuild_analyze_shadow(p_table text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  EXECUTE format('ANALYZE %I', p_table || '_shadow');
END
$fn$;

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

-- Row count and a checksum of the table: the sum of a 64-bit hash of every row's text (order
-- independent, so no sort: ~4x cheaper than md5(string_agg(... ORDER BY key)) at 100k rows,
-- which matters because the compare runs under the cutover lock). Rows include their key, so
-- equal multisets of rows are equal tables.
CREATE OR REPLACE FUNCTION rebuild_table_digest(p_table text, p_key text)
RETURNS TABLE (row_count bigint, digest text) LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN QUERY EXECUTE format(
    'SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text '
    'FROM %I t WHERE t.%I IS NOT NULL', p_table, p_key);
END
$fn$;

-- What differs between a table and its shadow, by p_key: counts of rows only in the live table,
-- only in the shadow, in both but different, and of those how many have a lower version in the
-- live table (the live projector had not applied the latest events yet), plus up to p_limit
-- examples [{"key","live": row or null,"shadow": row or null}].
CREATE OR REPLACE FUNCTION rebuild_table_diff(p_table text, p_key text, p_limit int)
RETURNS TABLE (only_live bigint, only_shadow bigint, changed bigint, behind bigint, examples jsonb)
LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN QUERY EXECUTE format(
    'WITH d AS MATERIALIZED ('
    '  SELECT coalesce(l.%1$I, s.%1$I) AS k, l.%1$I IS NULL AS no_live, s.%1$I IS NULL AS no_shadow,'
    '         l.version < s.version AS is_behind'
    '    FROM %2$I l FULL JOIN %3$I s ON s.%1$I = l.%1$I'
    '   WHERE l.%1$I IS NULL OR s.%1$I IS NULL OR l::text <> s::text)'
    ' SELECT count(*) FILTER (WHERE no_shadow), count(*) FILTER (WHERE no_live),'
    '        count(*) FILTER (WHERE NOT no_live AND NOT no_shadow),'
    '        count(*) FILTER (WHERE NOT no_live AND NOT no_shadow AND is_behind),'
    '        coalesce((SELECT jsonb_agg(jsonb_build_object(''key'', x.k,'
    '                    ''live'', (SELECT to_jsonb(l) FROM %2$I l WHERE l.%1$I = x.k),'
    '                    ''shadow'', (SELECT to_jsonb(s) FROM %3$I s WHERE s.%1$I = x.k)) ORDER BY x.k)'
    '                    FROM (SELECT k FROM d ORDER BY k LIMIT %4$s) x), ''[]''::jsonb)'
    '   FROM d', p_key, p_table, p_table || '_shadow', p_limit);
END
$fn$;
