-- The write-side's group-commit append: one call is one statement, so in autocommit one
-- transaction, one round trip and one WAL flush for a whole batch of commands.
-- Per-stream all-or-nothing: a stream whose events could not all be inserted (another writer took
-- a (stream_id, version) first), whose base version is stale (p_checks) or whose idempotency key
-- was taken concurrently is reported failed and none of its rows are kept; the caller re-runs it.
-- p_events:    [{"ord","event_id","stream_id","version","type","schema_version","data","metadata"}]
-- p_keys:      [{"key","stream_id","endpoint","request_hash","status","body","headers",
--                "last_event_id"}]: body is the response body's fields without "position"; the
--                row's position is that of last_event_id's event (NULL when none)
-- p_snapshots: [{"stream_id","version","state_schema","state"}] (at most one per stream)
-- p_checks:    [{"stream_id","version"}]: streams decided without appending; version + 1 must not
--                exist, hot or archived.
-- Returns ('e', event_id, position, recorded_at_us) per kept event, ('f', stream_id, NULL, NULL)
-- per failed stream. Rows are inserted in (stream_id, version) / key order so that concurrent
-- writers lock in the same order. Steps run only when they have input; the search for skipped
-- events only when fewer events were inserted than offered.
CREATE OR REPLACE FUNCTION ws_append_batch(p_events jsonb, p_keys jsonb, p_snapshots jsonb,
                                           p_checks jsonb)
RETURNS TABLE (kind text, id text, pos bigint, recorded_at_us bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_failed     text[];
  v_more       text[];
  v_ins_pos    bigint[];
  v_ins_id     text[];
  v_ins_stream text[];
  v_ins_ts     bigint[];
  v_keys       text[];
  v_offered    int := jsonb_array_length(p_events);
BEGIN
  v_failed := '{}';
  -- 1. stale-base checks for streams that append nothing in this call
  IF jsonb_array_length(p_checks) > 0 THEN
    SELECT coalesce(array_agg(DISTINCT c.stream_id), '{}') INTO v_failed
      FROM jsonb_to_recordset(p_checks) AS c(stream_id text, version bigint)
     WHERE EXISTS (SELECT 1 FROM all_events e WHERE e.stream_id = c.stream_id AND e.version = c.version + 1);
  END IF;

  -- 2. events; a (stream_id, version) taken by another writer is skipped, not an error
  WITH input AS (
    SELECT * FROM jsonb_to_recordset(p_events)
      AS x(ord int, event_id uuid, stream_id text, version bigint, type text, schema_version int,
           data jsonb, metadata jsonb)
  ), ins AS (
    INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata)
    SELECT i.event_id, i.stream_id, i.version, i.type, i.schema_version, i.data,
           coalesce(i.metadata, '{}'::jsonb)
      FROM input i
     WHERE NOT (i.stream_id = ANY (v_failed))
       -- an archived order takes no event (it is Delivered; its history may even be dropped):
       -- skipped here, the stream fails like a conflict and is re-run on its loaded state
       AND NOT EXISTS (SELECT 1 FROM archived_streams a WHERE a.stream_id = i.stream_id)
     ORDER BY i.stream_id, i.version
    ON CONFLICT (stream_id, version) DO NOTHING
    RETURNING position, event_id, stream_id, recorded_at
  )
  SELECT coalesce(array_agg(ins.position ORDER BY ins.position), '{}'),
         coalesce(array_agg(ins.event_id::text ORDER BY ins.position), '{}'),
         coalesce(array_agg(ins.stream_id ORDER BY ins.position), '{}'),
         coalesce(array_agg((extract(epoch FROM ins.recorded_at) * 1000000)::bigint
                            ORDER BY ins.position), '{}')
    INTO v_ins_pos, v_ins_id, v_ins_stream, v_ins_ts
    FROM ins;

  IF cardinality(v_failed) > 0 OR cardinality(v_ins_id) <> v_offered THEN
    SELECT v_failed || coalesce(array_agg(DISTINCT x.stream_id), '{}') INTO v_failed
      FROM jsonb_to_recordset(p_events) AS x(event_id uuid, stream_id text)
     WHERE NOT (x.stream_id = ANY (v_failed))
       AND NOT (x.event_id::text = ANY (v_ins_id));
  END IF;

  -- 3. idempotency keys of commands whose stream is still fine
  IF jsonb_array_length(p_keys) > 0 THEN
  WITH k AS (
    SELECT * FROM jsonb_to_recordset(p_keys)
      AS k(key text, stream_id text, endpoint text, request_hash text, status int, body jsonb,
           headers jsonb, last_event_id text)
  ), ins AS (
    INSERT INTO idempotency_keys (key, endpoint, request_hash, status, body, position, headers)
    SELECT k.key, k.endpoint, k.request_hash, k.status, k.body,
           (SELECT u.p FROM unnest(v_ins_pos, v_ins_id) AS u(p, i) WHERE u.i = k.last_event_id),
           coalesce(k.headers, '{}'::jsonb)
      FROM k
     WHERE NOT (k.stream_id = ANY (v_failed))
     ORDER BY k.key
    ON CONFLICT (key) DO NOTHING
    RETURNING key
  )
  SELECT coalesce(array_agg(ins.key), '{}') INTO v_keys FROM ins;

  SELECT coalesce(array_agg(DISTINCT k.stream_id), '{}') INTO v_more
    FROM jsonb_to_recordset(p_keys) AS k(key text, stream_id text)
   WHERE NOT (k.stream_id = ANY (v_failed))
     AND NOT (k.key = ANY (v_keys));
  IF cardinality(v_more) > 0 THEN
    DELETE FROM idempotency_keys
     WHERE key = ANY (v_keys)
       AND key IN (SELECT k.key FROM jsonb_to_recordset(p_keys) AS k(key text, stream_id text)
                    WHERE k.stream_id = ANY (v_more));
    v_failed := v_failed || v_more;
  END IF;
  END IF;

  -- 4. undo the events of failed streams (rows of this transaction only)
  IF cardinality(v_failed) > 0 THEN
    DELETE FROM events
     WHERE position IN (SELECT u.p FROM unnest(v_ins_pos, v_ins_stream) AS u(p, s)
                         WHERE u.s = ANY (v_failed));
  END IF;

  -- 5. one outbox row per kept event, in the same transaction
  INSERT INTO outbox (position)
  SELECT u.p FROM unnest(v_ins_pos, v_ins_stream) AS u(p, s)
   WHERE NOT (u.s = ANY (v_failed))
   ORDER BY u.p;

  -- 6. snapshots of the streams that committed
  IF jsonb_array_length(p_snapshots) > 0 THEN
  INSERT INTO snapshots AS s (stream_id, version, state_schema, state)
  SELECT n.stream_id, n.version, n.state_schema, n.state
    FROM jsonb_to_recordset(p_snapshots) AS n(stream_id text, version bigint, state_schema int, state jsonb)
   WHERE NOT (n.stream_id = ANY (v_failed))
   ORDER BY n.stream_id
  ON CONFLICT (stream_id) DO UPDATE
     SET version = excluded.version, state_schema = excluded.state_schema, state = excluded.state,
         taken_at = now()
   WHERE s.version < excluded.version OR s.state_schema <> excluded.state_schema;
  END IF;

  RETURN QUERY
    SELECT 'e'::text, u.i, u.p, u.t
      FROM unnest(v_ins_id, v_ins_pos, v_ins_stream, v_ins_ts) AS u(i, p, s, t)
     WHERE NOT (u.s = ANY (v_failed))
    UNION ALL
    SELECT 'f'::text, f.s, NULL::bigint, NULL::bigint FROM unnest(v_failed) AS f(s);
END
$fn$;
