-- Per projection and bus partition: the highest stream sequence (== global position) applied,
-- the recorded_at of that event, and how many distinct events the projection applied from that
-- partition (so lag in events = sequenced head - sum(events_applied), exact even with duplicates).
CREATE TABLE IF NOT EXISTS projection_checkpoints (
  projection           text        NOT NULL,
  partition            int         NOT NULL,
  last_global_position bigint      NOT NULL DEFAULT 0,
  last_recorded_at     timestamptz,
  events_applied       bigint      NOT NULL DEFAULT 0,
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, partition)
);
-- The projections and their state for GET /projections ("live" or "rebuilding").
CREATE TABLE IF NOT EXISTS projections (
  name       text        PRIMARY KEY,
  state      text        NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'rebuilding')),
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO projections (name) VALUES ('orders'), ('customers') ON CONFLICT DO NOTHING;
-- Live read-side replicas (heartbeats) so each takes about ceil(16 / live) partitions.
CREATE TABLE IF NOT EXISTS read_side_replicas (
  replica_id   text        PRIMARY KEY,
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  partitions   text        NOT NULL DEFAULT ''
);
