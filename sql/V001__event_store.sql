-- The event store. position comes from a sequence: unique and increasing within a stream, but not
-- commit-ordered; the dense, commit-ordered order readers follow is global_log (V002).
CREATE TABLE IF NOT EXISTS events (
  position        bigserial PRIMARY KEY,
  event_id        uuid        NOT NULL UNIQUE,
  stream_id       text        NOT NULL,
  version         bigint      NOT NULL CHECK (version >= 1),
  type            text        NOT NULL,
  schema_version  int         NOT NULL,
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  xid             xid8        NOT NULL DEFAULT pg_current_xact_id(),  -- the writing transaction
  CONSTRAINT events_stream_version UNIQUE (stream_id, version)
);
CREATE INDEX IF NOT EXISTS events_recorded_at ON events (stream_id, recorded_at);
