-- The archive tier of the event store (docs/storage.md): `write-side archive` moves the events of
-- Delivered orders whose last event is older than a duration out of the hot `events` table into
-- `events_archive`, one whole stream at a time. Same columns in the same order (so the two stack
-- under one view), the same keys: each tier enforces (stream_id, version), position and event_id
-- with its own unique index, and the trigger of sql/functions/events_tier_check.sql refuses a
-- (stream_id, version) that the other tier already has. Payloads are compressed with lz4 (faster
-- than pglz at a similar ratio) when they are large enough to be TOASTed.
CREATE TABLE events_archive (
  position bigint NOT NULL,
  event_id uuid NOT NULL,
  stream_id text NOT NULL,
  version bigint NOT NULL CHECK (version >= 1),
  type text NOT NULL,
  schema_version integer NOT NULL,
  data jsonb COMPRESSION lz4 NOT NULL,
  metadata jsonb COMPRESSION lz4 NOT NULL,
  recorded_at timestamptz NOT NULL,
  xid xid8 NOT NULL,
  CONSTRAINT events_archive_pkey PRIMARY KEY (position),
  CONSTRAINT events_archive_event_id_key UNIQUE (event_id),
  CONSTRAINT events_archive_stream_version UNIQUE (stream_id, version)
);

-- Every event, hot or archived: what every reader of the event store reads (the command path's
-- load, /events, /state, the CLI, the relay, gap fills, rebuilds). A filter on stream_id or a join
-- on position is pushed into both arms, each an index scan.
CREATE VIEW all_events AS
  SELECT position, event_id, stream_id, version, type, schema_version, data, metadata,
         recorded_at, xid FROM events
  UNION ALL
  SELECT position, event_id, stream_id, version, type, schema_version, data, metadata,
         recorded_at, xid FROM events_archive;
