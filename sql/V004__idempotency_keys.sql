-- Idempotency-Key records: the first response to a keyed command, replayed on retry.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key           text        PRIMARY KEY,
  endpoint      text        NOT NULL,  -- "POST /orders/{id}/items" with the concrete id
  request_hash  text        NOT NULL,  -- sha-256 hex of the body
  status        int         NOT NULL,
  response_body text        NOT NULL,
  headers       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON idempotency_keys (created_at);
