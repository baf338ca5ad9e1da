-- Outbox relay: wake-up trigger and the sequencing step that gives committed events their dense,
-- gap-free global position (guarantee 4).

-- Wake the relay on every committed outbox insert (one notification per inserting statement; the
-- payload is empty, so notifications of one transaction collapse into one).
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify('outbox', '');
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- relay_sequence(p_limit): moves up to p_limit outbox rows into global_log with global positions
-- relay_state.last_sequenced + 1 .. + n, and advances last_sequenced. Returns (n, last_sequenced,
-- horizon).
--
-- * Only rows whose writing transaction is below the xmin horizon (xid < pg_snapshot_xmin) are
--   taken: every such transaction has finished, so the set of eligible rows only grows by
--   transactions that end later, and the order assigned is a function of finished transactions.
--   A long-running WRITE transaction (one that holds an xid) holds the horizon back and delays
--   every later event until it ends; read-only transactions do not.
-- * One order's events keep their version order: within a call rows are numbered in position
--   order (a stream's next event is always inserted, hence drawn from the sequence, after its
--   predecessor committed), and a row is held back while an earlier version of its stream is
--   committed but still above the horizon (xid order alone is not commit order: a transaction
--   may take its xid before it reads the state it appends to).
-- * Concurrent callers serialize on the relay_state row (FOR UPDATE, first statement), and every
--   later statement takes a fresh snapshot, so two relays can never number the same row twice.
CREATE OR REPLACE FUNCTION relay_sequence(p_limit integer)
RETURNS TABLE (sequenced bigint, last_sequenced bigint, horizon xid8)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_base    bigint;
  v_n       bigint;
  v_xmin    xid8;
  v_blocked bigint[];
BEGIN
  SELECT r.last_sequenced INTO v_base FROM relay_state r WHERE r.id = 1 FOR UPDATE;
  v_xmin := pg_snapshot_xmin(pg_current_snapshot());

  -- Rows below the horizon that must wait: later versions of an order whose earlier event is
  -- committed but still above the horizon (usually none; both scans are small index ranges).
  WITH late AS (
    SELECT e.stream_id, min(e.version) AS version
      FROM outbox o JOIN events e ON e.position = o.position
     WHERE o.xid >= v_xmin
     GROUP BY e.stream_id
  )
  SELECT coalesce(array_agg(o.position), '{}') INTO v_blocked
    FROM late l
    JOIN events e ON e.stream_id = l.stream_id AND e.version > l.version
    JOIN outbox o ON o.position = e.position
   WHERE o.xid < v_xmin;

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
  RETURN QUERY SELECT v_n, v_base + v_n, v_xmin;
END
$fn$;
