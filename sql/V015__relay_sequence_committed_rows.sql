-- Outbox relay: number every committed outbox row, in position order, without an xmin horizon.
--
-- Until now (V010, V013, V014) a row was numbered only once its writing transaction was below the
-- xmin horizon (the lowest running xid, minus read-side projector transactions found through
-- pg_locks + pg_stat_activity), and rows below it were held back behind committed rows of the same
-- order above it. At 2,000 commands/s that cost most of the relay's share of the lag: the horizon
-- query was the expensive part of every step, and a committed event often waited for the NEXT step
-- because some other transaction (the write-side's other committer, a migration, psql) had taken
-- an xid before it and was still running.
--
-- The horizon is not needed for any guarantee:
-- * Dense, gap-free global order: positions are last_sequenced + 1 .. + n of the rows moved in one
--   transaction, and relay transactions serialize on the relay_state row (FOR UPDATE, first
--   statement; every later statement takes a fresh snapshot, so a second relay sees the rows the
--   first one moved as gone and numbers after them). global_log is committed in global order.
-- * One order's events keep their version order: an event is appended only on the state after its
--   predecessor (the write-side decides on committed state: a stream is never in two batches at
--   once and its cache entry is updated after the commit; another writer's stale version fails
--   the unique (stream_id, version) check). So the successor's position is drawn after the
--   predecessor committed, and a snapshot that sees the successor committed also sees the
--   predecessor committed (a commit is visible before its writer hears of it). Within one step the
--   rows are numbered in position order; a predecessor seen by an earlier step was numbered earlier.
-- * Nothing lost: a row leaves the outbox in the same transaction that gives it its position, and
--   the relay publishes only after that commit (synchronous_commit stays on).
-- Rows of transactions still running are simply not visible yet; their commit wakes the relay.
--
-- relay_sequence_step / relay_sequence / relay_step keep their signatures; `horizon` is now NULL
-- and `waiting` always 0 (nothing committed is ever left behind).
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
  v_base bigint;
  v_n    bigint;
BEGIN
  SELECT r.last_sequenced INTO v_base FROM relay_state r WHERE r.id = 1 FOR UPDATE;
  WITH picked AS (
    SELECT o.position FROM outbox o ORDER BY o.position LIMIT p_limit
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
  RETURN QUERY SELECT v_n, v_base + v_n, NULL::xid8, 0::bigint;
END
$fn$;

-- relay_step: as in V013/V014 (one statement per relay loop iteration: numbering, the
-- last_published hint, the next events to publish after p_cursor), with the numbering inlined so
-- that relay_state is updated once per step (last_sequenced and the hint together), and a step
-- that finds the outbox empty and has no hint to write stays read-only: it takes no row lock and
-- no xid, so its commit writes and flushes no WAL (a wake-up whose rows an earlier step already
-- took costs one short read).
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
        FROM global_log g JOIN events e ON e.position = g.position
       WHERE g.global_position > p_cursor
       ORDER BY g.global_position
       LIMIT p_pub_limit;
  END IF;
END
$fn$;

-- Nothing calls it any more.
DROP FUNCTION IF EXISTS relay_horizon();
