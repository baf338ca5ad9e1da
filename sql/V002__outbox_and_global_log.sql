-- Transactional outbox: one row per event, written in the event's transaction, removed when the
-- relay gives the event its global position.
CREATE TABLE IF NOT EXISTS outbox (
  position bigint PRIMARY KEY REFERENCES events (position),
  xid      xid8   NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX IF NOT EXISTS outbox_xid ON outbox (xid, position);

-- The dense, gap-free, commit-ordered global order; global_position == JetStream stream sequence.
CREATE TABLE IF NOT EXISTS global_log (
  global_position bigint PRIMARY KEY,
  position        bigint NOT NULL UNIQUE REFERENCES events (position)
);

-- Relay bookkeeping: a single row.
CREATE TABLE IF NOT EXISTS relay_state (
  id              int    PRIMARY KEY CHECK (id = 1),
  last_sequenced  bigint NOT NULL DEFAULT 0,  -- highest global_position assigned
  last_published  bigint NOT NULL DEFAULT 0   -- highest global_position acknowledged by JetStream
);
INSERT INTO relay_state (id) VALUES (1) ON CONFLICT DO NOTHING;
