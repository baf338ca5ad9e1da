-- The orders with an event after global position p_after (the compare's 'unsettled' scope).
CREATE OR REPLACE FUNCTION rebuild_unsettled_orders(p_after bigint)
RETURNS text[] LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(array_agg(DISTINCT e.stream_id), '{}') FROM global_log g
    JOIN events e ON e.position = g.position WHERE g.global_position > p_after
$fn$;
