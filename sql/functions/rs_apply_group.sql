-- The live projector's write (read-side/projector/view_store.cpp): one statement = one
-- transaction for the pending batches of several partitions. The cutover lock shared for every
-- projection (ascending index, as rebuild-projection expects); a check that "orders",
-- "customer_orders" and their lines tables are still the tables the views were read from
-- (p_table_oids; empty: nothing was read); each table's rows as an UPDATE guarded by the loaded version plus a plain INSERT of
-- rows assumed new; each projection's order lines that changed (upserted with their line key) or
-- went (deleted), written after their order's row passed its version check; one checkpoint row
-- per (projection, partition).
-- Returns 0 when written, 1 when a table was swapped in since (nothing written: reload, retry).
-- Raises RS001 when a row was not at its loaded version, unique_violation when a row assumed new
-- exists (everything rolled back either way: reload, retry). The SET clauses keep every row a
-- primary-key lookup whatever the table statistics.
CREATE OR REPLACE FUNCTION rs_apply_group(
  p_lock_class int, p_lock_count int, p_table_oids bigint[],
  o_order_id text[], o_customer_id text[], o_status text[], o_total bigint[],
  o_item_count int[], o_tracking text[], o_created_us bigint[], o_confirmed_us bigint[],
  o_shipped_us bigint[], o_delivered_us bigint[], o_version bigint[], o_last_position bigint[],
  o_stored bigint[],
  l_order_id text[], l_product_id text[], l_line bigint[], l_quantity bigint[], l_price bigint[],
  d_order_id text[], d_product_id text[],
  c_order_id text[], c_customer_id text[], c_status text[], c_total bigint[],
  c_version bigint[], c_last_position bigint[], c_stored bigint[],
  m_order_id text[], m_product_id text[], m_line bigint[], m_quantity bigint[], m_price bigint[],
  e_order_id text[], e_product_id text[],
  k_partition int[], k_projection text[], k_last_position bigint[], k_last_recorded_us bigint[],
  k_applied bigint[])
RETURNS int LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
  n bigint;
  updated bigint := 0;
  inserted bigint := 0;
BEGIN
  FOR i IN 0 .. p_lock_count - 1 LOOP
    PERFORM pg_advisory_xact_lock_shared(p_lock_class, i);
  END LOOP;
  IF coalesce(cardinality(p_table_oids), 0) > 0 AND p_table_oids IS DISTINCT FROM
     ARRAY[to_regclass('orders')::oid::bigint, to_regclass('customer_orders')::oid::bigint,
           to_regclass('order_items')::oid::bigint,
           to_regclass('customer_order_items')::oid::bigint] THEN
    RETURN 1;
  END IF;

  n := coalesce(cardinality(o_order_id), 0);
  IF n > 0 THEN
    UPDATE orders AS t SET customer_id = r.customer_id, status = r.status,
      total_cents = r.total_cents, item_count = r.item_count,
      tracking_number = r.tracking_number,
      created_at = timestamptz 'epoch' + r.created_at_us * interval '1 microsecond',
      confirmed_at = timestamptz 'epoch' + r.confirmed_at_us * interval '1 microsecond',
      shipped_at = timestamptz 'epoch' + r.shipped_at_us * interval '1 microsecond',
      delivered_at = timestamptz 'epoch' + r.delivered_at_us * interval '1 microsecond',
      version = r.version, last_global_position = r.last_global_position
    FROM unnest(o_order_id, o_customer_id, o_status, o_total, o_item_count,
                o_tracking, o_created_us, o_confirmed_us, o_shipped_us,
                o_delivered_us, o_version, o_last_position, o_stored)
      AS r(order_id, customer_id, status, total_cents, item_count, tracking_number,
           created_at_us, confirmed_at_us, shipped_at_us, delivered_at_us, version,
           last_global_position, stored_version)
    WHERE r.stored_version > 0 AND t.order_id = r.order_id AND t.version = r.stored_version;
    GET DIAGNOSTICS updated = ROW_COUNT;
    INSERT INTO orders (order_id, customer_id, status, total_cents, item_count,
      tracking_number, created_at, confirmed_at, shipped_at, delivered_at, version,
      last_global_position)
    SELECT r.order_id, r.customer_id, r.status, r.total_cents, r.item_count,
      r.tracking_number,
      timestamptz 'epoch' + r.created_at_us * interval '1 microsecond',
      timestamptz 'epoch' + r.confirmed_at_us * interval '1 microsecond',
      timestamptz 'epoch' + r.shipped_at_us * interval '1 microsecond',
      timestamptz 'epoch' + r.delivered_at_us * interval '1 microsecond',
      r.version, r.last_global_position
    FROM unnest(o_order_id, o_customer_id, o_status, o_total, o_item_count,
                o_tracking, o_created_us, o_confirmed_us, o_shipped_us,
                o_delivered_us, o_version, o_last_position, o_stored)
      AS r(order_id, customer_id, status, total_cents, item_count, tracking_number,
           created_at_us, confirmed_at_us, shipped_at_us, delivered_at_us, version,
           last_global_position, stored_version)
    WHERE r.stored_version = 0;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF updated + inserted <> n THEN
      RAISE EXCEPTION 'orders: % of % rows were not at their loaded version', n - updated - inserted, n
        USING ERRCODE = 'RS001';
    END IF;
  END IF;

  IF coalesce(cardinality(d_order_id), 0) > 0 THEN
    DELETE FROM order_items AS t
    USING unnest(d_order_id, d_product_id) AS d(order_id, product_id)
    WHERE t.order_id = d.order_id AND t.product_id = d.product_id;
  END IF;
  IF coalesce(cardinality(l_order_id), 0) > 0 THEN
    INSERT INTO order_items AS t (order_id, product_id, line, quantity, price_cents)
    SELECT l.order_id, l.product_id, l.line, l.quantity, l.price_cents
    FROM unnest(l_order_id, l_product_id, l_line, l_quantity, l_price)
      AS l(order_id, product_id, line, quantity, price_cents)
    ON CONFLICT (order_id, product_id) DO UPDATE SET line = EXCLUDED.line,
      quantity = EXCLUDED.quantity, price_cents = EXCLUDED.price_cents;
  END IF;

  n := coalesce(cardinality(c_order_id), 0);
  IF n > 0 THEN
    UPDATE customer_orders AS t SET customer_id = r.customer_id, status = r.status,
      total_cents = r.total_cents, version = r.version,
      last_global_position = r.last_global_position
    FROM unnest(c_order_id, c_customer_id, c_status, c_total, c_version,
                c_last_position, c_stored)
      AS r(order_id, customer_id, status, total_cents, version, last_global_position,
           stored_version)
    WHERE r.stored_version > 0 AND t.order_id = r.order_id AND t.version = r.stored_version;
    GET DIAGNOSTICS updated = ROW_COUNT;
    INSERT INTO customer_orders (order_id, customer_id, status, total_cents, version,
      last_global_position)
    SELECT r.order_id, r.customer_id, r.status, r.total_cents, r.version,
      r.last_global_position
    FROM unnest(c_order_id, c_customer_id, c_status, c_total, c_version,
                c_last_position, c_stored)
      AS r(order_id, customer_id, status, total_cents, version, last_global_position,
           stored_version)
    WHERE r.stored_version = 0;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF updated + inserted <> n THEN
      RAISE EXCEPTION 'customer_orders: % of % rows were not at their loaded version',
        n - updated - inserted, n USING ERRCODE = 'RS001';
    END IF;
  END IF;

  IF coalesce(cardinality(e_order_id), 0) > 0 THEN
    DELETE FROM customer_order_items AS t
    USING unnest(e_order_id, e_product_id) AS d(order_id, product_id)
    WHERE t.order_id = d.order_id AND t.product_id = d.product_id;
  END IF;
  IF coalesce(cardinality(m_order_id), 0) > 0 THEN
    INSERT INTO customer_order_items AS t (order_id, product_id, line, quantity, price_cents)
    SELECT l.order_id, l.product_id, l.line, l.quantity, l.price_cents
    FROM unnest(m_order_id, m_product_id, m_line, m_quantity, m_price)
      AS l(order_id, product_id, line, quantity, price_cents)
    ON CONFLICT (order_id, product_id) DO UPDATE SET line = EXCLUDED.line,
      quantity = EXCLUDED.quantity, price_cents = EXCLUDED.price_cents;
  END IF;

  IF coalesce(cardinality(k_projection), 0) > 0 THEN
    INSERT INTO projection_checkpoints AS c (projection, partition, last_global_position,
      last_recorded_at, events_applied, updated_at)
    SELECT a.projection, a.partition, a.last_global_position,
      timestamptz 'epoch' + a.last_recorded_us * interval '1 microsecond', a.events_applied, now()
    FROM unnest(k_projection, k_partition, k_last_position, k_last_recorded_us, k_applied)
      AS a(projection, partition, last_global_position, last_recorded_us, events_applied)
    ON CONFLICT (projection, partition) DO UPDATE SET
      last_global_position = GREATEST(c.last_global_position, EXCLUDED.last_global_position),
      last_recorded_at = CASE WHEN EXCLUDED.last_global_position >= c.last_global_position
                              THEN EXCLUDED.last_recorded_at ELSE c.last_recorded_at END,
      events_applied = c.events_applied + EXCLUDED.events_applied, updated_at = now();
  END IF;
  RETURN 0;
END
$$;
