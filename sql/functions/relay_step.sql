-- One relay loop iteration in ONE statement (one round trip, one implicit transaction, committed
-- before the rows reach the client): numbers up to p_seq_limit outbox rows into global_log
-- (last_sequenced + 1 .. + n, position order), advances the last_published hint to p_mark, and
-- returns the next p_pub_limit events after p_cursor. First row: the status (sequenced,
-- last_sequenced, waiting = 0; event columns NULL); then one row per event in global order.
-- Relay transactions serialize on the relay_state row. Position order keeps each order's version
-- order: a stream's next event is decided on committed state, so its position is drawn after its
-- predecessor committed. A step that finds the outbox empty and has no hint to write stays
-- read-only (no row lock, no xid, no WAL).
CREATE OR REPLACE FUNCTION relay_step(p_cursor bigint, p_mark bigint, p_seq_limit integer,
                                      p_pub_limit integer)
RETURNS TABLE (sequenced bigint, last_sequenced bigint, waiting bigint, global_position bigint,
               event_id text, stream_id text, version bigint, "position" bigint, type text,
               schema_version integer, recorded_at_us bigint, data text, metadata text)
LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $fn$
#variable_conflict use_column
DECLARE
  v_base bigint;
  v_n    bigint := 0;
BEGIN
  IF p_seq_limit > 0 AND EXISTS (SELECT 1 FROM outbox) THEN
    SELECT r.last_sequenced INTO v_base FROM relay_state r WHERE r.id = 1 FOR UPDATE;
    WITH picked AS (
      SELECT o.position FROM outbox o ORDER BY o.position LIMIT p_seq_limit
    ), gone AS (
      DELETE FROM outbox o USING picked p WHERE o.position = p.position RETURNING o.position
    ), ins AS (
      INSERT INTO global_log (global_position, position)
      SELECT v_base + row_number() OVER (ORDER BY g.position), g.position FROM gone g
      RETURNING 1
    )
    SELECT count(*) INTO v_n FROM ins;
  ELSE
    SELECT r.last_sequenced INTO v_base FROM relay_state r WHERE r.id = 1;
  END IF;
  IF v_n > 0 THEN
    UPDATE relay_state r
       SET last_sequenced = v_base + v_n,
           last_published = GREATEST(r.last_published, p_mark)
     WHERE r.id = 1;
  ELSIF p_mark > 0 THEN
    UPDATE relay_state r SET last_published = GREATEST(r.last_published, p_mark) WHERE r.id = 1;
  END IF;
  RETURN QUERY SELECT v_n, v_base + v_n, 0::bigint, NULL::bigint, NULL::text, NULL::text, NULL::bigint,
                      NULL::bigint, NULL::text, NULL::integer, NULL::bigint, NULL::text, NULL::text;
  IF p_pub_limit > 0 THEN
    RETURN QUERY
      SELECT NULL::bigint, NULL::bigint, NULL::bigint, g.global_position, e.event_id::text, e.stream_id,
             e.version, e.position, e.type, e.schema_version,
             (extract(epoch FROM e.recorded_at) * 1000000)::bigint, e.data::text, e.metadata::text
        FROM global_log g JOIN all_events e ON e.position = g.position
       WHERE g.global_position > p_cursor
       ORDER BY g.global_position
       LIMIT p_pub_limit;
  END IF;
END
$fn$;
