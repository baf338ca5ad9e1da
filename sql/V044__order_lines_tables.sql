-- The read model's order lines, one row per line (read-side/projector/view_store.cpp): an
-- AddItem on an order with many lines writes one line row per projection and the order's row
-- without its lines, instead of rewriting a jsonb of every line (and its TOAST chunks) per event.
-- order_items belongs to the orders projection, customer_order_items to the customers one (its
-- fold needs the lines for the totals; the projections may stand at different versions).
-- line: the version of the event that created the line; ORDER BY line is the order in which the
-- lines were first added (what GET /orders/{id} returns).
CREATE TABLE order_items (
  order_id text NOT NULL,
  product_id text NOT NULL,
  line bigint NOT NULL,
  quantity bigint NOT NULL,
  price_cents bigint NOT NULL,
  PRIMARY KEY (order_id, product_id)
);
CREATE TABLE customer_order_items (LIKE order_items INCLUDING ALL);

-- The lines of the rows already projected. line = the version of the OrderItemAdded that created
-- the line (the first after the product's last removal), as the fold computes it, so that a
-- rebuild-projection after this migration compares identical (product_id is in every schema
-- version of both item events).
CREATE FUNCTION pg_temp.line_created(p_order text, p_product text, p_upto bigint, p_n bigint)
RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT min(a.version) FROM events a
      WHERE a.stream_id = p_order AND a.version <= p_upto AND a.type = 'OrderItemAdded'
        AND a.data->>'product_id' = p_product
        AND a.version > coalesce((SELECT max(r.version) FROM events r
                                   WHERE r.stream_id = p_order AND r.version <= p_upto
                                     AND r.type = 'OrderItemRemoved'
                                     AND r.data->>'product_id' = p_product), 0)),
    p_n)
$$;

INSERT INTO order_items (order_id, product_id, line, quantity, price_cents)
SELECT o.order_id, i.item->>'product_id',
       pg_temp.line_created(o.order_id, i.item->>'product_id', o.version, i.n),
       (i.item->>'quantity')::bigint, (i.item->>'price_cents')::bigint
FROM orders o, jsonb_array_elements(o.items) WITH ORDINALITY AS i(item, n);

INSERT INTO customer_order_items (order_id, product_id, line, quantity, price_cents)
SELECT o.order_id, i.item->>'product_id',
       pg_temp.line_created(o.order_id, i.item->>'product_id', o.version, i.n),
       (i.item->>'quantity')::bigint, (i.item->>'price_cents')::bigint
FROM customer_orders o, jsonb_array_elements(o.items) WITH ORDINALITY AS i(item, n);

ALTER TABLE orders DROP COLUMN items;
ALTER TABLE customer_orders DROP COLUMN items;

-- The live projector's write takes the lines now (sql/functions/rs_apply_group.sql).
DROP FUNCTION IF EXISTS rs_apply_group(int, int, bigint[], text[], text[], text[], jsonb[],
  bigint[], int[], text[], bigint[], bigint[], bigint[], bigint[], bigint[], bigint[], bigint[],
  text[], text[], text[], jsonb[], bigint[], bigint[], bigint[], bigint[], int[], text[],
  bigint[], bigint[], bigint[]);
