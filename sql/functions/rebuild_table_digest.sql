-- Row count and a checksum of the table's rows in scope (rebuild_scope; p_after its $1): the sum
-- of a 64-bit hash of every row's text (order independent, so no sort: ~4x cheaper than
-- md5(string_agg(... ORDER BY key)) at 100k rows). Rows include their key, so equal multisets of
-- rows are equal tables.
CREATE OR REPLACE FUNCTION rebuild_table_digest(p_table text, p_key text, p_scope text,
                                                p_after bigint)
RETURNS TABLE (row_count bigint, digest text) LANGUAGE plpgsql AS $fn$
DECLARE
  v_keys text[];
BEGIN
  IF p_scope = 'unsettled' THEN v_keys := rebuild_unsettled_orders(p_after); END IF;
  RETURN QUERY EXECUTE format(
    'SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text '
    'FROM %I t WHERE t.%I IS NOT NULL AND %s', p_table, p_key, rebuild_scope(p_scope, p_key))
    USING p_after, v_keys;
END
$fn$;
