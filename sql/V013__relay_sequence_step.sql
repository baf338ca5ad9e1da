-- Outbox relay, sequencing step (same numbering rules as relay_sequence() in V010), changed for
-- latency:
-- * Plans that do not depend on table statistics. On a young or fast-growing database (never
--   analyzed yet) the planner took `events` for a few hundred rows and hashed the whole table twice
--   per call to find held-back rows: 30-80 ms per call after 10 s at 2,000 commands/s, growing with
--   the table. Every statement here is a short index range (outbox by xid or position, events by
--   position or (stream_id, version)), so the function runs with sequential scans, bitmap scans
--   (which never mark dead queue entries, unlike index scans) and hash/merge joins turned off.
-- * It reports `waiting`: committed outbox rows left at or above the horizon or held back behind
--   them. Such rows wait for an older transaction to end; when that transaction is not a
--   write-side commit (a read-side apply, a migration, psql) nothing wakes the relay when it ends,
--   so the relay polls again soon while waiting > 0. Rows of still-running transactions are not
--   visible here (their commit wakes the relay).
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
  SELECT r.last_sequenced INTO v_base FROM relay_state r WHERE r.id = 1 FOR UPDATE;
  v_xmin := pg_snapshot_xmin(pg_current_snapshot());

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

-- relay_sequence() keeps its V010 signature (callers, tests) and now runs the step above.
CREATE OR REPLACE FUNCTION relay_sequence(p_limit integer)
RETURNS TABLE (sequenced bigint, last_sequenced bigint, horizon xid8)
LANGUAGE sql AS $fn$
  SELECT s.sequenced, s.last_sequenced, s.horizon FROM relay_sequence_step(p_limit) s
$fn$;

-- relay_step(p_cursor, p_mark, p_seq_limit, p_pub_limit): one relay loop iteration in ONE
-- statement (one round trip, one implicit transaction, committed before the rows reach the
-- client): advances the last_published hint to p_mark (when > 0), runs relay_sequence_step, and
-- returns the next p_pub_limit events to publish after p_cursor. The first row is the status
-- (sequenced, last_sequenced, waiting; event columns NULL), then one row per event in
-- global_position order.
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
  IF p_mark > 0 THEN
    UPDATE relay_state r SET last_published = GREATEST(r.last_published, p_mark) WHERE r.id = 1;
  END IF;
  SELECT * INTO v_seq FROM relay_sequence_step(p_seq_limit);
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
