-- Outbox relay: transactions that can never write the outbox no longer hold its horizon back.
--
-- * The relay's own transaction. pg_snapshot_xmin() counts the caller's own xid, and relay_step
--   (V013) first updated relay_state (the last_published hint), which gave it an xid, then read
--   the horizon: every write-side transaction that took its xid after the relay's waited for the
--   NEXT relay step. Now the horizon is read first, before this transaction writes anything, and
--   the hint is written last.
-- * Read-side projector transactions. Each read-side partition worker applies its batches on a
--   connection that holds the session advisory lock (0x52534450 = 'RSDP', partition) for as long
--   as it owns the partition (read-side/projector/context.hpp kPartitionLockClass), and it only
--   writes query tables and checkpoints. Its apply transactions (locks + upserts + commit flush,
--   10-50 ms under load, 16 partitions) held the horizon most of the time, so committed events
--   waited for an unrelated projector commit before being numbered.
--   relay_horizon() is the lowest running xid that does not belong to such a backend (else the
--   snapshot's xmax). Every race errs on the safe side: an xid is skipped only while
--   pg_stat_activity shows it as the current xid of a backend that pg_locks shows holding a
--   partition lock; anything not matched (finished since, status not visible to this role, a
--   backend that just started) counts as before.
-- Same numbering rules as V010/V013 otherwise (the horizon only decides WHICH finished writers'
-- rows are final; transactions that never write the outbox add nothing to that set).
CREATE OR REPLACE FUNCTION relay_horizon()
RETURNS xid8
LANGUAGE sql VOLATILE AS $fn$
  WITH snap AS (SELECT pg_current_snapshot() AS s),
  projector_xids AS (
    SELECT a.backend_xid AS x
      FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.classid = 1381188688::oid AND l.objsubid = 2 AND l.granted
       AND a.backend_xid IS NOT NULL
  )
  -- The caller's own xid (if it has one) still counts, as in pg_snapshot_xmin(): its own
  -- uncommitted rows must never be final.
  SELECT least(coalesce((SELECT min(r.x) FROM pg_snapshot_xip(snap.s) AS r(x)
                          WHERE r.x::xid NOT IN (SELECT p.x FROM projector_xids p)),
                        pg_snapshot_xmax(snap.s)),
               pg_current_xact_id_if_assigned())
    FROM snap
$fn$;

CREATE OR REPLACE FUNCTION relay_sequence_step(p_limit integer)
RETURNS TABLE (sequenced bigint, last_sequenced bigint, horizon xid8, waiting bigint)
LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $fn$
#variable_conflict use_column
DECLARE
  v_base    bigint;
  v_n       bigint;
  v_xmin    xid8;
  v_above   bigint;
  v_blocked bigint[];
BEGIN
  -- The horizon first, while this transaction has no xid of its own (its xid would otherwise be
  -- the horizon). A horizon read before waiting for the lock below is only lower: still safe.
  v_xmin := relay_horizon();
  SELECT r.last_sequenced INTO v_base FROM relay_state r WHERE r.id = 1 FOR UPDATE;

  -- Committed rows at or above the horizon (usually a handful), and the rows below the horizon
  -- that must wait: later versions of an order whose earlier event is one of those.
  WITH above AS MATERIALIZED (
    SELECT o.position FROM outbox o WHERE o.xid >= v_xmin
  ), late AS (
    SELECT e.stream_id, min(e.version) AS version
      FROM above a JOIN events e ON e.position = a.position
     GROUP BY e.stream_id
  )
  SELECT (SELECT count(*) FROM above),
         coalesce((SELECT array_agg(o.position)
                     FROM late l
                     JOIN events e ON e.stream_id = l.stream_id AND e.version > l.version
                     JOIN outbox o ON o.position = e.position
                    WHERE o.xid < v_xmin), '{}')
    INTO v_above, v_blocked;

  WITH picked AS (
    SELECT o.position
      FROM outbox o
     WHERE o.xid < v_xmin AND o.position <> ALL (v_blocked)
     ORDER BY o.position
     LIMIT p_limit
  ), gone AS (
    DELETE FROM outbox o USING picked p WHERE o.position = p.position RETURNING o.position
  ), ins AS (
    INSERT INTO global_log (global_position, position)
    SELECT v_base + row_number() OVER (ORDER BY g.position), g.position FROM gone g
    RETURNING 1
  )
  SELECT count(*) INTO v_n FROM ins;

  IF v_n > 0 THEN
    UPDATE relay_state r SET last_sequenced = v_base + v_n WHERE r.id = 1;
  END IF;
  RETURN QUERY SELECT v_n, v_base + v_n, v_xmin, v_above + cardinality(v_blocked);
END
$fn$;

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
  v_seq record;
BEGIN
  SELECT * INTO v_seq FROM relay_sequence_step(p_seq_limit);
  IF p_mark > 0 THEN
    UPDATE relay_state r SET last_published = GREATEST(r.last_published, p_mark) WHERE r.id = 1;
  END IF;
  RETURN QUERY SELECT v_seq.sequenced, v_seq.last_sequenced, v_seq.waiting, NULL::bigint, NULL::text,
                      NULL::text, NULL::bigint, NULL::bigint, NULL::text, NULL::integer, NULL::bigint,
                      NULL::text, NULL::text;
  IF p_pub_limit > 0 THEN
    RETURN QUERY
      SELECT NULL::bigint, NULL::bigint, NULL::bigint, g.global_position, e.event_id::text, e.stream_id,
             e.version, e.position, e.type, e.schema_version,
             (extract(epoch FROM e.recorded_at) * 1000000)::bigint, e.data::text, e.metadata::text
        FROM global_log g JOIN events e ON e.position = g.position
       WHERE g.global_position > p_cursor
       ORDER BY g.global_position
       LIMIT p_pub_limit;
  END IF;
END
$fn$;
