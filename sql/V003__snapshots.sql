-- Latest snapshot per stream. state_schema lets a changed state shape ignore old snapshots.
CREATE TABLE IF NOT EXISTS snapshots (
  stream_id    text        PRIMARY KEY,
  version      bigint      NOT NULL,
  state_schema int         NOT NULL,
  state        jsonb       NOT NULL,
  taken_at     timestamptz NOT NULL DEFAULT now()
);
