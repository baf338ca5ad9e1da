-- Read model of the "orders" projection: one row per order, denormalized for GET /orders/{id}
-- and the keyset-paginated lists (newest first by (created_at, order_id)).
-- items: [{"product_id","quantity","price_cents"}] in the order they were first added.
CREATE TABLE IF NOT EXISTS orders (
  order_id             text        PRIMARY KEY,
  customer_id          text        NOT NULL,
  status               text        NOT NULL,
  items                jsonb       NOT NULL DEFAULT '[]'::jsonb,
  total_cents          bigint      NOT NULL DEFAULT 0,
  item_count           int         NOT NULL DEFAULT 0,
  tracking_number      text,
  created_at           timestamptz NOT NULL,
  confirmed_at         timestamptz,
  shipped_at           timestamptz,
  delivered_at         timestamptz,
  version              bigint      NOT NULL,
  last_global_position bigint      NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS orders_by_created ON orders (created_at DESC, order_id DESC);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, created_at DESC, order_id DESC);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status, created_at DESC, order_id DESC);
CREATE INDEX IF NOT EXISTS orders_by_customer_status
  ON orders (customer_id, status, created_at DESC, order_id DESC);
