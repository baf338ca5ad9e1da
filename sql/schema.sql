CREATE FUNCTION public.events_tier_check() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_clash text;
BEGIN
  IF TG_TABLE_NAME = 'events' THEN
    SELECT n.stream_id || ' version ' || n.version INTO v_clash
      FROM new_rows n JOIN archived_streams a ON a.stream_id = n.stream_id
     LIMIT 1;
  ELSE
    SELECT n.stream_id || ' version ' || n.version INTO v_clash
      FROM new_rows n JOIN events h ON h.stream_id = n.stream_id AND h.version = n.version
     LIMIT 1;
  END IF;
  IF v_clash IS NOT NULL THEN
    RAISE EXCEPTION 'stream % is already in the other tier of the event store', v_clash
      USING ERRCODE = 'unique_violation', CONSTRAINT = 'events_stream_version';
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.rebuild_analyze_shadow(p_table text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  EXECUTE format('ANALYZE %I', p_table || '_shadow');
END
$$;

CREATE FUNCTION public.rebuild_create_shadow(p_table text, p_unlogged boolean) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_options text;
BEGIN
  SELECT array_to_string(reloptions, ', ') INTO v_options FROM pg_class
   WHERE oid = p_table::regclass;
  EXECUTE format('DROP TABLE IF EXISTS %I', p_table || '_shadow');
  EXECUTE format('CREATE %s TABLE %I (LIKE %I INCLUDING ALL EXCLUDING INDEXES)%s',
                 CASE WHEN p_unlogged THEN 'UNLOGGED' ELSE '' END, p_table || '_shadow', p_table,
                 CASE WHEN v_options IS NULL OR v_options = '' THEN ''
                      ELSE ' WITH (' || v_options || ')' END);
END
$$;

CREATE FUNCTION public.rebuild_drop_shadow(p_table text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  EXECUTE format('DROP TABLE IF EXISTS %I', p_table || '_shadow');
END
$$;

CREATE FUNCTION public.rebuild_index_shadow(p_table text, p_index text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_shadow text := p_table || '_shadow';
  v_name   text := rebuild_shadow_index_name(p_index);
  v_def    text;
  v_type   "char";
  v_new    text;
BEGIN
  SELECT pg_get_indexdef(i.indexrelid), con.contype INTO v_def, v_type
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
   WHERE i.indrelid = p_table::regclass AND c.relname = p_index;
  IF v_def IS NULL THEN
    RAISE EXCEPTION 'rebuild: % has no index %', p_table, p_index;
  END IF;
  v_new := regexp_replace(v_def, '^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+ USING ',
                          'CREATE \1INDEX ' || quote_ident(v_name) || ' ON ' ||
                          quote_ident(v_shadow) || ' USING ');
  IF v_new = v_def THEN
    RAISE EXCEPTION 'rebuild: cannot re-target index definition %', v_def;
  END IF;
  EXECUTE format('DROP INDEX IF EXISTS %I', v_name);
  EXECUTE v_new;
  IF v_type = 'p' THEN
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY USING INDEX %I',
                   v_shadow, v_name, v_name);
  ELSIF v_type = 'u' THEN
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I UNIQUE USING INDEX %I',
                   v_shadow, v_name, v_name);
  END IF;
END
$$;

CREATE FUNCTION public.rebuild_lines_diff(p_table text, p_limit integer, p_scope text, p_after bigint, p_keys text[]) RETURNS TABLE(orders bigint, examples jsonb)
    LANGUAGE plpgsql
    AS $_$
BEGIN
  RETURN QUERY EXECUTE format(
    'WITH d AS MATERIALIZED ('
    '  SELECT x.order_id AS k FROM ((SELECT * FROM %1$I t WHERE %4$s EXCEPT ALL'
    '    SELECT * FROM %2$I t WHERE %4$s) UNION ALL (SELECT * FROM %2$I t WHERE %4$s EXCEPT ALL'
    '    SELECT * FROM %1$I t WHERE %4$s)) x GROUP BY x.order_id)'
    ' SELECT count(*),'
    '        coalesce((SELECT jsonb_agg(jsonb_build_object(''key'', e.k,'
    '                    ''live'', (SELECT coalesce(jsonb_agg(to_jsonb(l) - ''order_id'' ORDER BY l.line), ''[]'')'
    '                               FROM %1$I l WHERE l.order_id = e.k),'
    '                    ''shadow'', (SELECT coalesce(jsonb_agg(to_jsonb(s) - ''order_id'' ORDER BY s.line), ''[]'')'
    '                                 FROM %2$I s WHERE s.order_id = e.k)) ORDER BY e.k)'
    '                    FROM (SELECT k FROM d ORDER BY k LIMIT %3$s) e), ''[]''::jsonb)'
    '   FROM d', p_table, p_table || '_shadow', p_limit, rebuild_scope(p_scope, 'order_id'))
    USING p_after, p_keys;
END
$_$;

CREATE FUNCTION public.rebuild_live_indexes(p_table text) RETURNS SETOF text
    LANGUAGE sql STABLE
    AS $$
  SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE i.indrelid = p_table::regclass ORDER BY c.relname
$$;

CREATE FUNCTION public.rebuild_log_shadow(p_table text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_shadow text := p_table || '_shadow';
BEGIN
  IF (SELECT relpersistence FROM pg_class WHERE oid = v_shadow::regclass) = 'u' THEN
    EXECUTE format('ALTER TABLE %I SET LOGGED', v_shadow);
  END IF;
END
$$;

CREATE FUNCTION public.rebuild_scope(p_scope text, p_key text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    AS $_$
BEGIN
  RETURN CASE p_scope
    WHEN 'all' THEN 'true'
    WHEN 'settled' THEN format('NOT EXISTS (SELECT 1 FROM global_log g JOIN all_events e'
                               ' ON e.position = g.position WHERE g.global_position > $1'
                               ' AND e.stream_id = t.%I)', p_key)
    WHEN 'keys' THEN format('t.%I = ANY ($2)', p_key)
  END;
END
$_$;

CREATE FUNCTION public.rebuild_shadow_index_name(p_index text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
  SELECT left(p_index, 48) || '_shadow'
$$;

CREATE FUNCTION public.rebuild_swap(p_table text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_shadow  text := p_table || '_shadow';
  v_names   text[];
  v_missing text[];
  v_name    text;
BEGIN
  EXECUTE format('LOCK TABLE %I, %I IN ACCESS EXCLUSIVE MODE', p_table, v_shadow);
  SELECT coalesce(array_agg(c.relname ORDER BY c.relname), '{}') INTO v_names
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE i.indrelid = p_table::regclass;
  SELECT coalesce(array_agg(n), '{}') INTO v_missing
    FROM unnest(v_names) AS n
   WHERE NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                      WHERE i.indrelid = v_shadow::regclass
                        AND c.relname = rebuild_shadow_index_name(n));
  IF cardinality(v_missing) > 0 THEN
    RAISE EXCEPTION 'rebuild: shadow of % lacks indexes %', p_table, v_missing;
  END IF;
  EXECUTE format('DROP TABLE %I', p_table);
  EXECUTE format('ALTER TABLE %I RENAME TO %I', v_shadow, p_table);
  FOREACH v_name IN ARRAY v_names LOOP
    EXECUTE format('ALTER INDEX %I RENAME TO %I', rebuild_shadow_index_name(v_name), v_name);
  END LOOP;
END
$$;

CREATE FUNCTION public.rebuild_table_diff(p_table text, p_key text, p_limit integer, p_scope text, p_after bigint, p_keys text[]) RETURNS TABLE(only_live bigint, only_shadow bigint, changed bigint, behind bigint, examples jsonb)
    LANGUAGE plpgsql
    AS $_$
BEGIN
  RETURN QUERY EXECUTE format(
    'WITH d AS MATERIALIZED ('
    '  SELECT coalesce(l.%1$I, s.%1$I) AS k, l.%1$I IS NULL AS no_live, s.%1$I IS NULL AS no_shadow,'
    '         l.version < s.version AS is_behind'
    '    FROM (SELECT * FROM %2$I t WHERE %5$s) l FULL JOIN (SELECT * FROM %3$I t WHERE %5$s) s'
    '      ON s.%1$I = l.%1$I'
    '   WHERE l.%1$I IS NULL OR s.%1$I IS NULL OR l::text <> s::text)'
    ' SELECT count(*) FILTER (WHERE no_shadow), count(*) FILTER (WHERE no_live),'
    '        count(*) FILTER (WHERE NOT no_live AND NOT no_shadow),'
    '        count(*) FILTER (WHERE NOT no_live AND NOT no_shadow AND is_behind),'
    '        coalesce((SELECT jsonb_agg(jsonb_build_object(''key'', x.k,'
    '                    ''live'', (SELECT to_jsonb(l) FROM %2$I l WHERE l.%1$I = x.k),'
    '                    ''shadow'', (SELECT to_jsonb(s) FROM %3$I s WHERE s.%1$I = x.k)) ORDER BY x.k)'
    '                    FROM (SELECT k FROM d ORDER BY k LIMIT %4$s) x), ''[]''::jsonb)'
    '   FROM d', p_key, p_table, p_table || '_shadow', p_limit, rebuild_scope(p_scope, p_key))
    USING p_after, p_keys;
END
$_$;

CREATE FUNCTION public.rebuild_table_digest(p_table text, p_key text, p_scope text, p_after bigint, p_keys text[]) RETURNS TABLE(row_count bigint, digest text)
    LANGUAGE plpgsql
    AS $$
BEGIN
  RETURN QUERY EXECUTE format(
    'SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text '
    'FROM %I t WHERE t.%I IS NOT NULL AND %s', p_table, p_key, rebuild_scope(p_scope, p_key))
    USING p_after, p_keys;
END
$$;

CREATE FUNCTION public.relay_sequence(p_limit integer) RETURNS TABLE(sequenced bigint, last_sequenced bigint)
    LANGUAGE plpgsql
    AS $$
BEGIN
  RETURN QUERY SELECT s.sequenced, s.last_sequenced FROM relay_step(0, 0, p_limit, 0) s;
END
$$;

CREATE FUNCTION public.relay_step(p_cursor bigint, p_mark bigint, p_seq_limit integer, p_pub_limit integer) RETURNS TABLE(sequenced bigint, last_sequenced bigint, waiting bigint, global_position bigint, event_id text, stream_id text, version bigint, "position" bigint, type text, schema_version integer, recorded_at_us bigint, data text, metadata text)
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
    SET enable_bitmapscan TO 'off'
    SET enable_hashjoin TO 'off'
    SET enable_mergejoin TO 'off'
    AS $$
#variable_conflict use_column
DECLARE
  v_base bigint;
  v_n    bigint := 0;
BEGIN
  IF p_seq_limit > 0 AND EXISTS (SELECT 1 FROM outbox) THEN
    SELECT r.last_sequenced INTO v_base FROM relay_state r WHERE r.id = 1 FOR UPDATE;
    WITH picked AS (
      SELECT o.position FROM outbox o ORDER BY o.position LIMIT p_seq_limit
    ), gone AS (
      DELETE FROM outbox o USING picked p WHERE o.position = p.position RETURNING o.position
    ), ins AS (
      INSERT INTO global_log (global_position, position)
      SELECT v_base + row_number() OVER (ORDER BY g.position), g.position FROM gone g
      RETURNING 1
    )
    SELECT count(*) INTO v_n FROM ins;
  ELSE
    SELECT r.last_sequenced INTO v_base FROM relay_state r WHERE r.id = 1;
  END IF;
  IF v_n > 0 THEN
    UPDATE relay_state r
       SET last_sequenced = v_base + v_n,
           last_published = GREATEST(r.last_published, p_mark)
     WHERE r.id = 1;
  ELSIF p_mark > 0 THEN
    UPDATE relay_state r SET last_published = GREATEST(r.last_published, p_mark) WHERE r.id = 1;
  END IF;
  RETURN QUERY SELECT v_n, v_base + v_n, 0::bigint, NULL::bigint, NULL::text, NULL::text, NULL::bigint,
                      NULL::bigint, NULL::text, NULL::integer, NULL::bigint, NULL::text, NULL::text;
  IF p_pub_limit > 0 THEN
    RETURN QUERY
      SELECT NULL::bigint, NULL::bigint, NULL::bigint, g.global_position, e.event_id::text, e.stream_id,
             e.version, e.position, e.type, e.schema_version,
             (extract(epoch FROM e.recorded_at) * 1000000)::bigint, e.data::text, e.metadata::text
        FROM global_log g JOIN all_events e ON e.position = g.position
       WHERE g.global_position > p_cursor
       ORDER BY g.global_position
       LIMIT p_pub_limit;
  END IF;
END
$$;

CREATE FUNCTION public.rs_apply_group(p_lock_class integer, p_lock_count integer, p_table_oids bigint[], o_order_id text[], o_customer_id text[], o_status text[], o_total bigint[], o_item_count integer[], o_tracking text[], o_created_us bigint[], o_confirmed_us bigint[], o_shipped_us bigint[], o_delivered_us bigint[], o_version bigint[], o_last_position bigint[], o_stored bigint[], l_order_id text[], l_product_id text[], l_line bigint[], l_quantity bigint[], l_price bigint[], d_order_id text[], d_product_id text[], c_order_id text[], c_customer_id text[], c_status text[], c_total bigint[], c_version bigint[], c_last_position bigint[], c_stored bigint[], m_order_id text[], m_product_id text[], m_line bigint[], m_quantity bigint[], m_price bigint[], e_order_id text[], e_product_id text[], k_partition integer[], k_projection text[], k_last_position bigint[], k_last_recorded_us bigint[], k_applied bigint[]) RETURNS integer
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
    SET enable_bitmapscan TO 'off'
    SET enable_hashjoin TO 'off'
    SET enable_mergejoin TO 'off'
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

CREATE FUNCTION public.rs_park_events(p_lock_class integer, p_lock_count integer, p_order_id text[], p_position bigint[], p_event_id text[], p_type text[], p_version bigint[], p_error text[], p_attempts integer[], p_held boolean[]) RETURNS TABLE(unparked_order text)
    LANGUAGE plpgsql
    AS $$
BEGIN
  FOR i IN 0 .. p_lock_count - 1 LOOP
    PERFORM pg_advisory_xact_lock_shared(p_lock_class, i);
  END LOOP;
  RETURN QUERY
    SELECT DISTINCT r.order_id
    FROM unnest(p_order_id, p_held) AS r(order_id, held)
    WHERE r.held AND NOT EXISTS (SELECT 1 FROM parked_events pe WHERE pe.order_id = r.order_id);
  INSERT INTO parked_events AS pe (order_id, global_position, event_id, type, version, error,
    attempts)
  SELECT r.order_id, r.global_position, r.event_id::uuid, r.type, r.version, r.error, r.attempts
  FROM unnest(p_order_id, p_position, p_event_id, p_type, p_version, p_error, p_attempts, p_held)
    AS r(order_id, global_position, event_id, type, version, error, attempts, held)
  WHERE NOT r.held OR EXISTS (SELECT 1 FROM parked_events x WHERE x.order_id = r.order_id)
  ON CONFLICT (order_id, global_position) DO NOTHING;
END
$$;

CREATE FUNCTION public.ws_append_batch(p_events jsonb, p_keys jsonb, p_snapshots jsonb, p_checks jsonb) RETURNS TABLE(kind text, id text, pos bigint, recorded_at_us bigint)
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_column
DECLARE
  v_failed     text[];
  v_more       text[];
  v_ins_pos    bigint[];
  v_ins_id     text[];
  v_ins_stream text[];
  v_ins_ts     bigint[];
  v_keys       text[];
  v_offered    int := jsonb_array_length(p_events);
BEGIN
  v_failed := '{}';
  -- 1. stale-base checks for streams that append nothing in this call
  IF jsonb_array_length(p_checks) > 0 THEN
    SELECT coalesce(array_agg(DISTINCT c.stream_id), '{}') INTO v_failed
      FROM jsonb_to_recordset(p_checks) AS c(stream_id text, version bigint)
     WHERE EXISTS (SELECT 1 FROM all_events e WHERE e.stream_id = c.stream_id AND e.version = c.version + 1);
  END IF;

  -- 2. events; a (stream_id, version) taken by another writer is skipped, not an error
  WITH input AS (
    SELECT * FROM jsonb_to_recordset(p_events)
      AS x(ord int, event_id uuid, stream_id text, version bigint, type text, schema_version int,
           data jsonb, metadata jsonb)
  ), ins AS (
    INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata)
    SELECT i.event_id, i.stream_id, i.version, i.type, i.schema_version, i.data,
           coalesce(i.metadata, '{}'::jsonb)
      FROM input i
     WHERE NOT (i.stream_id = ANY (v_failed))
       -- an archived order takes no event (it is Delivered; its history may even be dropped):
       -- skipped here, the stream fails like a conflict and is re-run on its loaded state
       AND NOT EXISTS (SELECT 1 FROM archived_streams a WHERE a.stream_id = i.stream_id)
     ORDER BY i.stream_id, i.version
    ON CONFLICT (stream_id, version) DO NOTHING
    RETURNING position, event_id, stream_id, recorded_at
  )
  SELECT coalesce(array_agg(ins.position ORDER BY ins.position), '{}'),
         coalesce(array_agg(ins.event_id::text ORDER BY ins.position), '{}'),
         coalesce(array_agg(ins.stream_id ORDER BY ins.position), '{}'),
         coalesce(array_agg((extract(epoch FROM ins.recorded_at) * 1000000)::bigint
                            ORDER BY ins.position), '{}')
    INTO v_ins_pos, v_ins_id, v_ins_stream, v_ins_ts
    FROM ins;

  IF cardinality(v_failed) > 0 OR cardinality(v_ins_id) <> v_offered THEN
    SELECT v_failed || coalesce(array_agg(DISTINCT x.stream_id), '{}') INTO v_failed
      FROM jsonb_to_recordset(p_events) AS x(event_id uuid, stream_id text)
     WHERE NOT (x.stream_id = ANY (v_failed))
       AND NOT (x.event_id::text = ANY (v_ins_id));
  END IF;

  -- 3. idempotency keys of commands whose stream is still fine
  IF jsonb_array_length(p_keys) > 0 THEN
  WITH k AS (
    SELECT * FROM jsonb_to_recordset(p_keys)
      AS k(key text, stream_id text, endpoint text, request_hash text, status int, body jsonb,
           headers jsonb, last_event_id text)
  ), ins AS (
    INSERT INTO idempotency_keys (key, endpoint, request_hash, status, body, position, headers)
    SELECT k.key, k.endpoint, k.request_hash, k.status, k.body,
           (SELECT u.p FROM unnest(v_ins_pos, v_ins_id) AS u(p, i) WHERE u.i = k.last_event_id),
           coalesce(k.headers, '{}'::jsonb)
      FROM k
     WHERE NOT (k.stream_id = ANY (v_failed))
     ORDER BY k.key
    ON CONFLICT (key) DO NOTHING
    RETURNING key
  )
  SELECT coalesce(array_agg(ins.key), '{}') INTO v_keys FROM ins;

  SELECT coalesce(array_agg(DISTINCT k.stream_id), '{}') INTO v_more
    FROM jsonb_to_recordset(p_keys) AS k(key text, stream_id text)
   WHERE NOT (k.stream_id = ANY (v_failed))
     AND NOT (k.key = ANY (v_keys));
  IF cardinality(v_more) > 0 THEN
    DELETE FROM idempotency_keys
     WHERE key = ANY (v_keys)
       AND key IN (SELECT k.key FROM jsonb_to_recordset(p_keys) AS k(key text, stream_id text)
                    WHERE k.stream_id = ANY (v_more));
    v_failed := v_failed || v_more;
  END IF;
  END IF;

  -- 4. undo the events of failed streams (rows of this transaction only)
  IF cardinality(v_failed) > 0 THEN
    DELETE FROM events
     WHERE position IN (SELECT u.p FROM unnest(v_ins_pos, v_ins_stream) AS u(p, s)
                         WHERE u.s = ANY (v_failed));
  END IF;

  -- 5. one outbox row per kept event, in the same transaction
  INSERT INTO outbox (position)
  SELECT u.p FROM unnest(v_ins_pos, v_ins_stream) AS u(p, s)
   WHERE NOT (u.s = ANY (v_failed))
   ORDER BY u.p;

  -- 6. snapshots of the streams that committed
  IF jsonb_array_length(p_snapshots) > 0 THEN
  INSERT INTO snapshots AS s (stream_id, version, state_schema, state)
  SELECT n.stream_id, n.version, n.state_schema, n.state
    FROM jsonb_to_recordset(p_snapshots) AS n(stream_id text, version bigint, state_schema int, state jsonb)
   WHERE NOT (n.stream_id = ANY (v_failed))
   ORDER BY n.stream_id
  ON CONFLICT (stream_id) DO UPDATE
     SET version = excluded.version, state_schema = excluded.state_schema, state = excluded.state,
         taken_at = now()
   WHERE s.version < excluded.version OR s.state_schema <> excluded.state_schema;
  END IF;

  RETURN QUERY
    SELECT 'e'::text, u.i, u.p, u.t
      FROM unnest(v_ins_id, v_ins_pos, v_ins_stream, v_ins_ts) AS u(i, p, s, t)
     WHERE NOT (u.s = ANY (v_failed))
    UNION ALL
    SELECT 'f'::text, f.s, NULL::bigint, NULL::bigint FROM unnest(v_failed) AS f(s);
END
$$;

CREATE FUNCTION public.ws_archive_batch(p_after bigint, p_upto bigint, p_cutoff_us bigint, p_orders integer, p_move boolean) RETURNS TABLE(orders bigint, events bigint, bytes bigint, last_position bigint)
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_cutoff timestamptz := 'epoch'::timestamptz + p_cutoff_us * interval '1 microsecond';
  v_streams text[];
  v_last    bigint;
  v_day     date := current_date;
BEGIN
  SELECT coalesce(array_agg(p.stream_id), '{}'), max(p.position) INTO v_streams, v_last
    FROM (SELECT d.stream_id, d.position FROM events d
           WHERE d.position > p_after AND d.position <= p_upto AND d.type = 'OrderDelivered'
             AND d.recorded_at < v_cutoff
             AND NOT EXISTS (SELECT 1 FROM events l
                              WHERE l.stream_id = d.stream_id AND l.version > d.version)
           ORDER BY d.position LIMIT p_orders) p;
  IF NOT p_move THEN
    RETURN QUERY
      SELECT cardinality(v_streams)::bigint, count(*), coalesce(sum(pg_column_size(e.*)), 0)::bigint,
             v_last
        FROM events e WHERE e.stream_id = ANY (v_streams);
    RETURN;
  END IF;
  PERFORM ws_archive_partition(v_day);
  RETURN QUERY
    WITH moved AS (
      DELETE FROM events e WHERE e.stream_id = ANY (v_streams)
      RETURNING e.position, e.event_id, e.stream_id, e.version, e.type, e.schema_version, e.data,
                e.metadata, e.recorded_at, e.xid, pg_column_size(e.*) AS size
    ), ins AS (
      INSERT INTO events_archive (position, event_id, stream_id, version, type, schema_version,
                                  data, metadata, recorded_at, xid, archived_on)
      SELECT m.position, m.event_id, m.stream_id, m.version, m.type, m.schema_version, m.data,
             m.metadata, m.recorded_at, m.xid, v_day FROM moved m ORDER BY m.position
      RETURNING 1
    ), dir AS (
      INSERT INTO archived_streams (stream_id, archived_on, last_version)
      SELECT m.stream_id, v_day, max(m.version) FROM moved m GROUP BY m.stream_id
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM dir), (SELECT count(*) FROM ins),
           coalesce(sum(m.size), 0)::bigint, v_last
      FROM moved m;
END
$$;

CREATE FUNCTION public.ws_archive_drop_year(p_year integer) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_marked bigint;
BEGIN
  PERFORM set_config('lock_timeout', '5s', true);
  UPDATE archived_streams SET dropped_at = now()
   WHERE dropped_at IS NULL
     AND archived_on >= make_date(p_year, 1, 1) AND archived_on < make_date(p_year + 1, 1, 1);
  GET DIAGNOSTICS v_marked = ROW_COUNT;
  EXECUTE format('DROP TABLE IF EXISTS %I', 'events_archive_y' || p_year);
  RETURN v_marked;
END
$$;

CREATE FUNCTION public.ws_archive_horizon(p_cutoff_us bigint) RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
  v_cutoff timestamptz := 'epoch'::timestamptz + p_cutoff_us * interval '1 microsecond';
  v_lo  bigint;
  v_hi  bigint;
  v_mid bigint;
  v_pos bigint;
  v_at  timestamptz;
BEGIN
  SELECT e.position INTO v_lo FROM events e ORDER BY e.position LIMIT 1;
  SELECT e.position INTO v_hi FROM events e ORDER BY e.position DESC LIMIT 1;
  IF v_lo IS NULL THEN
    RETURN 0;
  END IF;
  v_lo := v_lo - 1;  -- invariant: every position <= v_lo is old; the answer is in [v_lo, v_hi]
  WHILE v_lo < v_hi LOOP
    v_mid := v_lo + (v_hi - v_lo + 1) / 2;
    SELECT e.position, e.recorded_at INTO v_pos, v_at FROM events e
     WHERE e.position >= v_mid ORDER BY e.position LIMIT 1;
    IF v_at < v_cutoff THEN
      v_lo := v_pos;
    ELSE
      v_hi := v_mid - 1;
    END IF;
  END LOOP;
  RETURN v_lo;
END
$$;

CREATE FUNCTION public.ws_archive_partition(p_day date) RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_year int := extract(year FROM p_day)::int;
  v_name text := 'events_archive_y' || v_year;
BEGIN
  IF to_regclass(v_name) IS NULL THEN
    PERFORM set_config('lock_timeout', '2s', true);
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF events_archive '
                   'FOR VALUES FROM (%L) TO (%L)',
                   v_name, make_date(v_year, 1, 1), make_date(v_year + 1, 1, 1));
  END IF;
  RETURN v_name;
END
$$;

CREATE TABLE public.events (
    "position" bigint NOT NULL,
    event_id uuid NOT NULL,
    stream_id text NOT NULL,
    version bigint NOT NULL,
    type text NOT NULL,
    schema_version integer NOT NULL,
    data jsonb NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    recorded_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    CONSTRAINT events_version_check CHECK ((version >= 1))
);
ALTER TABLE ONLY public.events ALTER COLUMN data SET COMPRESSION lz4;
ALTER TABLE ONLY public.events ALTER COLUMN metadata SET COMPRESSION lz4;

CREATE TABLE public.events_archive (
    "position" bigint NOT NULL,
    event_id uuid NOT NULL,
    stream_id text NOT NULL,
    version bigint NOT NULL,
    type text NOT NULL,
    schema_version integer NOT NULL,
    data jsonb NOT NULL,
    metadata jsonb NOT NULL,
    recorded_at timestamp with time zone NOT NULL,
    xid xid8 NOT NULL,
    archived_on date NOT NULL,
    CONSTRAINT events_archive_version_check1 CHECK ((version >= 1))
)
PARTITION BY RANGE (archived_on);
ALTER TABLE ONLY public.events_archive ALTER COLUMN data SET COMPRESSION lz4;
ALTER TABLE ONLY public.events_archive ALTER COLUMN metadata SET COMPRESSION lz4;

CREATE VIEW public.all_events AS
 SELECT events."position",
    events.event_id,
    events.stream_id,
    events.version,
    events.type,
    events.schema_version,
    events.data,
    events.metadata,
    events.recorded_at,
    events.xid
   FROM public.events
UNION ALL
 SELECT events_archive."position",
    events_archive.event_id,
    events_archive.stream_id,
    events_archive.version,
    events_archive.type,
    events_archive.schema_version,
    events_archive.data,
    events_archive.metadata,
    events_archive.recorded_at,
    events_archive.xid
   FROM public.events_archive;

CREATE TABLE public.archived_streams (
    stream_id text NOT NULL,
    archived_on date NOT NULL,
    last_version bigint NOT NULL,
    dropped_at timestamp with time zone
);

CREATE TABLE public.customer_order_items (
    order_id text NOT NULL,
    product_id text NOT NULL,
    line bigint NOT NULL,
    quantity bigint NOT NULL,
    price_cents bigint NOT NULL
);

CREATE TABLE public.customer_orders (
    order_id text NOT NULL,
    customer_id text NOT NULL,
    status text NOT NULL,
    total_cents bigint DEFAULT 0 NOT NULL,
    version bigint NOT NULL,
    last_global_position bigint DEFAULT 0 NOT NULL
)
WITH (fillfactor='50');

CREATE SEQUENCE public.events_position_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.events_position_seq OWNED BY public.events."position";

CREATE TABLE public.global_log (
    global_position bigint NOT NULL,
    "position" bigint NOT NULL
);

CREATE TABLE public.idempotency_keys (
    key text NOT NULL,
    endpoint text NOT NULL,
    request_hash text NOT NULL,
    status integer NOT NULL,
    headers jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    body jsonb NOT NULL,
    "position" bigint
);

CREATE TABLE public.order_items (
    order_id text NOT NULL,
    product_id text NOT NULL,
    line bigint NOT NULL,
    quantity bigint NOT NULL,
    price_cents bigint NOT NULL
);

CREATE TABLE public.orders (
    order_id text NOT NULL,
    customer_id text NOT NULL,
    status text NOT NULL,
    total_cents bigint DEFAULT 0 NOT NULL,
    item_count integer DEFAULT 0 NOT NULL,
    tracking_number text,
    created_at timestamp with time zone NOT NULL,
    confirmed_at timestamp with time zone,
    shipped_at timestamp with time zone,
    delivered_at timestamp with time zone,
    version bigint NOT NULL,
    last_global_position bigint DEFAULT 0 NOT NULL
)
WITH (fillfactor='50');

CREATE TABLE public.outbox (
    "position" bigint NOT NULL
);

CREATE TABLE public.parked_events (
    order_id text NOT NULL,
    global_position bigint NOT NULL,
    event_id uuid NOT NULL,
    type text NOT NULL,
    version bigint NOT NULL,
    error text NOT NULL,
    attempts integer NOT NULL,
    parked_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.projection_checkpoints (
    projection text NOT NULL,
    partition integer NOT NULL,
    last_global_position bigint DEFAULT 0 NOT NULL,
    last_recorded_at timestamp with time zone,
    events_applied bigint DEFAULT 0 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.projections (
    name text NOT NULL,
    state text DEFAULT 'live'::text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT projections_state_check CHECK ((state = ANY (ARRAY['live'::text, 'rebuilding'::text])))
);

CREATE TABLE public.read_side_replicas (
    replica_id text NOT NULL,
    heartbeat_at timestamp with time zone DEFAULT now() NOT NULL,
    partitions text DEFAULT ''::text NOT NULL
);

CREATE TABLE public.relay_state (
    id integer NOT NULL,
    last_sequenced bigint DEFAULT 0 NOT NULL,
    last_published bigint DEFAULT 0 NOT NULL,
    CONSTRAINT relay_state_id_check CHECK ((id = 1))
);

CREATE TABLE public.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL,
    checksum text
);

CREATE TABLE public.schema_repeatables (
    file text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.snapshots (
    stream_id text NOT NULL,
    version bigint NOT NULL,
    state_schema integer NOT NULL,
    state jsonb NOT NULL,
    taken_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.events ALTER COLUMN "position" SET DEFAULT nextval('public.events_position_seq'::regclass);

ALTER TABLE ONLY public.archived_streams
    ADD CONSTRAINT archived_streams_pkey PRIMARY KEY (stream_id);

ALTER TABLE ONLY public.customer_order_items
    ADD CONSTRAINT customer_order_items_pkey PRIMARY KEY (order_id, product_id);

ALTER TABLE ONLY public.customer_orders
    ADD CONSTRAINT customer_orders_pkey PRIMARY KEY (order_id);

ALTER TABLE ONLY public.events_archive
    ADD CONSTRAINT events_archive_event_id_key UNIQUE (event_id, archived_on);

ALTER TABLE ONLY public.events_archive
    ADD CONSTRAINT events_archive_pkey PRIMARY KEY ("position", archived_on);

ALTER TABLE ONLY public.events_archive
    ADD CONSTRAINT events_archive_stream_version UNIQUE (stream_id, version, archived_on);

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_event_id_key UNIQUE (event_id);

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY ("position");

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_stream_version UNIQUE (stream_id, version);

ALTER TABLE ONLY public.global_log
    ADD CONSTRAINT global_log_pkey PRIMARY KEY (global_position);

ALTER TABLE ONLY public.global_log
    ADD CONSTRAINT global_log_position_key UNIQUE ("position");

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (key);

ALTER TABLE ONLY public.order_items
    ADD CONSTRAINT order_items_pkey PRIMARY KEY (order_id, product_id);

ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (order_id);

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY ("position");

ALTER TABLE ONLY public.parked_events
    ADD CONSTRAINT parked_events_pkey PRIMARY KEY (order_id, global_position);

ALTER TABLE ONLY public.projection_checkpoints
    ADD CONSTRAINT projection_checkpoints_pkey PRIMARY KEY (projection, partition);

ALTER TABLE ONLY public.projections
    ADD CONSTRAINT projections_pkey PRIMARY KEY (name);

ALTER TABLE ONLY public.read_side_replicas
    ADD CONSTRAINT read_side_replicas_pkey PRIMARY KEY (replica_id);

ALTER TABLE ONLY public.relay_state
    ADD CONSTRAINT relay_state_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.schema_repeatables
    ADD CONSTRAINT schema_repeatables_pkey PRIMARY KEY (file);

ALTER TABLE ONLY public.snapshots
    ADD CONSTRAINT snapshots_pkey PRIMARY KEY (stream_id);

CREATE INDEX archived_streams_archived_on ON public.archived_streams USING btree (archived_on);

CREATE INDEX customer_orders_by_customer ON public.customer_orders USING btree (customer_id);

CREATE INDEX idempotency_keys_created_at ON public.idempotency_keys USING btree (created_at);

CREATE INDEX orders_by_customer ON public.orders USING btree (customer_id, created_at DESC, order_id DESC);

CREATE INDEX orders_by_status ON public.orders USING btree (status, created_at DESC, order_id DESC);

CREATE TRIGGER events_archive_tier_check AFTER INSERT ON public.events_archive REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.events_tier_check();

CREATE TRIGGER events_tier_check AFTER INSERT ON public.events REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.events_tier_check();
