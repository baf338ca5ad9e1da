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
