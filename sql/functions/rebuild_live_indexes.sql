-- The live table's indexes (names), in a stable order.
CREATE OR REPLACE FUNCTION rebuild_live_indexes(p_table text)
RETURNS SETOF text LANGUAGE sql STABLE AS $fn$
  SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE i.indrelid = p_table::regclass ORDER BY c.relname
$fn$;
