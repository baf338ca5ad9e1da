-- Row count and a checksum of the table's rows in scope (rebuild_scope; p_after its $1, p_keys
-- its $2): the sum of a 64-bit hash of every row's text (order independent, so no sort: ~4x
-- cheaper than md5(string_agg(... ORDER BY key)) at 100k rows). Rows include their key, so equal
-- multisets of rows are equal tables.
CREATE OR REPLACE FUNCTION rebuild_table_digest(p_table text, p_key text, p_scope text,
                                                p_after bigint, p_keys text[])
RETURNS TABLE (row_count bigint, digest text) LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN QUERY EXECUTE format(
    'SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text '
    'FROM %I t WHERE t.%I IS NOT NULL AND %s', p_table, p_key, rebuild_scope(p_scope, p_key))
    USING p_after, p_keys;
END
$fn$;
