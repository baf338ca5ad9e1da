-- One batch of `write-side archive` (write-side/store/archive_store.cpp), one statement and so
-- one transaction: picks up to p_orders Delivered orders whose OrderDelivered event lies in the
-- position range (p_after, p_upto], was recorded before p_cutoff_us (microseconds since the
-- epoch) and is the stream's last event, and moves every event of each of them from `events` to
-- `events_archive` (p_move) or only counts them (dry run). Moved orders go into the partition of
-- today's year and are listed in archived_streams. A kill at any moment leaves each order wholly
-- hot or wholly archived; a rerun picks up what is still hot.
-- Returns the orders and events picked, the bytes of their rows and the highest OrderDelivered
-- position picked (the caller's next p_after; NULL when none was).
CREATE OR REPLACE FUNCTION ws_archive_batch(p_after bigint, p_upto bigint, p_cutoff_us bigint,
                                            p_orders integer, p_move boolean)
RETURNS TABLE (orders bigint, events bigint, bytes bigint, last_position bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_cutoff timestamptz := 'epoch'::timestamptz + p_cutoff_us * interval '1 microsecond';
  v_streams text[];
  v_last    bigint;
  v_day     date := current_date;
BEGIN
  SELECT coalesce(array_agg(p.stream_id), '{}'), max(p.position) INTO v_streams, v_last
    FROM (SELECT d.stream_id, d.position FROM events d
           WHERE d.position > p_after AND d.position <= p_upto AND d.type = 'OrderDelivered'
             AND d.recorded_at < v_cutoff
             AND NOT EXISTS (SELECT 1 FROM events l
                              WHERE l.stream_id = d.stream_id AND l.version > d.version)
           ORDER BY d.position LIMIT p_orders) p;
  IF NOT p_move THEN
    RETURN QUERY
      SELECT cardinality(v_streams)::bigint, count(*), coalesce(sum(pg_column_size(e.*)), 0)::bigint,
             v_last
        FROM events e WHERE e.stream_id = ANY (v_streams);
    RETURN;
  END IF;
  PERFORM ws_archive_partition(v_day);
  RETURN QUERY
    WITH moved AS (
      DELETE FROM events e WHERE e.stream_id = ANY (v_streams)
      RETURNING e.position, e.event_id, e.stream_id, e.version, e.type, e.schema_version, e.data,
                e.metadata, e.recorded_at, e.xid, pg_column_size(e.*) AS size
    ), ins AS (
      INSERT INTO events_archive (position, event_id, stream_id, version, type, schema_version,
                                  data, metadata, recorded_at, xid, archived_on)
      SELECT m.position, m.event_id, m.stream_id, m.version, m.type, m.schema_version, m.data,
             m.metadata, m.recorded_at, m.xid, v_day FROM moved m ORDER BY m.position
      RETURNING 1
    ), dir AS (
      INSERT INTO archived_streams (stream_id, archived_on, last_version)
      SELECT m.stream_id, v_day, max(m.version) FROM moved m GROUP BY m.stream_id
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM dir), (SELECT count(*) FROM ins),
           coalesce(sum(m.size), 0)::bigint, v_last
      FROM moved m;
END
$fn$;
