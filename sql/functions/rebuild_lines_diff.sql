-- The orders whose lines differ between a lines table (order_items, customer_order_items) and its
-- shadow, among the orders in scope (rebuild_scope; p_after its $1, p_keys its $2): their count,
-- and up to p_limit examples [{"key","live": lines,"shadow": lines}] (lines as
-- [{"product_id","quantity","price_cents","line"}] in line order, [] when none).
CREATE OR REPLACE FUNCTION rebuild_lines_diff(p_table text, p_limit int, p_scope text,
                                              p_after bigint, p_keys text[])
RETURNS TABLE (orders bigint, examples jsonb) LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN QUERY EXECUTE format(
    'WITH d AS MATERIALIZED ('
    '  SELECT x.order_id AS k FROM ((SELECT * FROM %1$I t WHERE %4$s EXCEPT ALL'
    '    SELECT * FROM %2$I t WHERE %4$s) UNION ALL (SELECT * FROM %2$I t WHERE %4$s EXCEPT ALL'
    '    SELECT * FROM %1$I t WHERE %4$s)) x GROUP BY x.order_id)'
    ' SELECT count(*),'
    '        coalesce((SELECT jsonb_agg(jsonb_build_object(''key'', e.k,'
    '                    ''live'', (SELECT coalesce(jsonb_agg(to_jsonb(l) - ''order_id'' ORDER BY l.line), ''[]'')'
    '                               FROM %1$I l WHERE l.order_id = e.k),'
    '                    ''shadow'', (SELECT coalesce(jsonb_agg(to_jsonb(s) - ''order_id'' ORDER BY s.line), ''[]'')'
    '                                 FROM %2$I s WHERE s.order_id = e.k)) ORDER BY e.k)'
    '                    FROM (SELECT k FROM d ORDER BY k LIMIT %3$s) e), ''[]''::jsonb)'
    '   FROM d', p_table, p_table || '_shadow', p_limit, rebuild_scope(p_scope, 'order_id'))
    USING p_after, p_keys;
END
$fn$;
