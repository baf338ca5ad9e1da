-- What differs between a table and its shadow, by p_key, among the rows in scope (rebuild_scope;
-- p_after its $1, p_keys its $2): counts of rows only in the live table, only in the shadow, in
-- both but different, and of those how many have a lower version in the live table (the live
-- projector had not applied the latest events yet), plus up to p_limit examples [{"key","live":
-- row or null,"shadow": row or null}].
CREATE OR REPLACE FUNCTION rebuild_table_diff(p_table text, p_key text, p_limit int,
                                              p_scope text, p_after bigint, p_keys text[])
RETURNS TABLE (only_live bigint, only_shadow bigint, changed bigint, behind bigint, examples jsonb)
LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN QUERY EXECUTE format(
    'WITH d AS MATERIALIZED ('
    '  SELECT coalesce(l.%1$I, s.%1$I) AS k, l.%1$I IS NULL AS no_live, s.%1$I IS NULL AS no_shadow,'
    '         l.version < s.version AS is_behind'
    '    FROM (SELECT * FROM %2$I t WHERE %5$s) l FULL JOIN (SELECT * FROM %3$I t WHERE %5$s) s'
    '      ON s.%1$I = l.%1$I'
    '   WHERE l.%1$I IS NULL OR s.%1$I IS NULL OR l::text <> s::text)'
    ' SELECT count(*) FILTER (WHERE no_shadow), count(*) FILTER (WHERE no_live),'
    '        count(*) FILTER (WHERE NOT no_live AND NOT no_shadow),'
    '        count(*) FILTER (WHERE NOT no_live AND NOT no_shadow AND is_behind),'
    '        coalesce((SELECT jsonb_agg(jsonb_build_object(''key'', x.k,'
    '                    ''live'', (SELECT to_jsonb(l) FROM %2$I l WHERE l.%1$I = x.k),'
    '                    ''shadow'', (SELECT to_jsonb(s) FROM %3$I s WHERE s.%1$I = x.k)) ORDER BY x.k)'
    '                    FROM (SELECT k FROM d ORDER BY k LIMIT %4$s) x), ''[]''::jsonb)'
    '   FROM d', p_key, p_table, p_table || '_shadow', p_limit, rebuild_scope(p_scope, p_key))
    USING p_after, p_keys;
END
$fn$;
