-- Read model of the "customers" projection: one row per order with what the customer summary
-- needs (and the items, so the projection folds from its own state, independent of "orders").
-- GET /customers/{id} aggregates these rows.
CREATE TABLE IF NOT EXISTS customer_orders (
  order_id             text   PRIMARY KEY,
  customer_id          text   NOT NULL,
  status               text   NOT NULL,
  items                jsonb  NOT NULL DEFAULT '[]'::jsonb,
  total_cents          bigint NOT NULL DEFAULT 0,
  version              bigint NOT NULL,
  last_global_position bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS customer_orders_by_customer
  ON customer_orders (customer_id, status) INCLUDE (total_cents);
