-- Parks events of the live projector (read-side/projector/parked_store.cpp), one statement =
-- one transaction. Takes the cutover lock shared for every projection first, like rs_apply_group,
-- so it never interleaves with `read-side unpark` (which takes it exclusively). A row with
-- p_held = true is an event held behind an order that the caller believes parked: it is inserted
-- only if the order still has a parked row; otherwise (unparked meanwhile) nothing of that order
-- is inserted and the order is returned, so the caller refreshes its parked set and folds the
-- event instead. Rows already parked are left as they are.
CREATE OR REPLACE FUNCTION rs_park_events(
  p_lock_class int, p_lock_count int, p_order_id text[], p_position bigint[], p_event_id text[],
  p_type text[], p_version bigint[], p_error text[], p_attempts int[], p_held boolean[])
RETURNS TABLE (unparked_order text) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 0 .. p_lock_count - 1 LOOP
    PERFORM pg_advisory_xact_lock_shared(p_lock_class, i);
  END LOOP;
  RETURN QUERY
    SELECT DISTINCT r.order_id
    FROM unnest(p_order_id, p_held) AS r(order_id, held)
    WHERE r.held AND NOT EXISTS (SELECT 1 FROM parked_events pe WHERE pe.order_id = r.order_id);
  INSERT INTO parked_events AS pe (order_id, global_position, event_id, type, version, error,
    attempts)
  SELECT r.order_id, r.global_position, r.event_id::uuid, r.type, r.version, r.error, r.attempts
  FROM unnest(p_order_id, p_position, p_event_id, p_type, p_version, p_error, p_attempts, p_held)
    AS r(order_id, global_position, event_id, type, version, error, attempts, held)
  WHERE NOT r.held OR EXISTS (SELECT 1 FROM parked_events x WHERE x.order_id = r.order_id)
  ON CONFLICT (order_id, global_position) DO NOTHING;
END
$$;
