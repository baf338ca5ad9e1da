-- The rows a rebuild's compare looks at, as a predicate on table alias t (key column p_key):
--   'all'        every row;
--   'settled'    orders without an event after global position $1 (the compare before the
--                cutover lock: the rows the live projector and the rebuild both have final);
--   'keys'       the orders in $2 (text[]: under the cutover lock, those with an event after
--                the compare's position, compared by key).
CREATE OR REPLACE FUNCTION rebuild_scope(p_scope text, p_key text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  RETURN CASE p_scope
    WHEN 'all' THEN 'true'
    WHEN 'settled' THEN format('NOT EXISTS (SELECT 1 FROM global_log g JOIN all_events e'
                               ' ON e.position = g.position WHERE g.global_position > $1'
                               ' AND e.stream_id = t.%I)', p_key)
    WHEN 'keys' THEN format('t.%I = ANY ($2)', p_key)
  END;
END
$fn$;
