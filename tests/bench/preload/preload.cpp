#include "tests/bench/preload/preload.hpp"

#include <algorithm>
#include <chrono>

namespace orders::bench {

namespace {

// $1 first order, $2 last order, $3 prefix, $4 metadata pad (characters, 0 = none): a JSON-ish
// list of lines each with 8 random hex characters, so it compresses like real JSON, not like
// noise.
// event_id: a UUIDv7 of recorded_at (what the write-side hands out), the rest from md5.
constexpr const char* kEventsSql = R"SQL(
WITH gen AS (
  SELECT o, v, $3::text || '-' || o AS oid, md5(o::text || '/' || v) AS h,
         timestamptz '2024-01-01 00:00:00+00' +
           (((o - 1) / 1000) * 10000 + v * 1000 + (o - 1) % 1000) * interval '1 millisecond' AS at
    FROM generate_series($1::bigint, $2::bigint) o, generate_series(1, 10) v
)
INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata,
                    recorded_at)
SELECT (lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7' ||
        substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
       oid, v,
       CASE WHEN v = 1 THEN 'OrderCreated' WHEN v <= 7 THEN 'OrderItemAdded'
            WHEN v = 8 THEN 'OrderConfirmed' WHEN v = 9 THEN 'OrderShipped'
            ELSE 'OrderDelivered' END,
       CASE WHEN v BETWEEN 2 AND 7 THEN 2 ELSE 1 END,
       CASE WHEN v = 1 THEN jsonb_build_object('order_id', oid, 'customer_id',
                                               $3::text || '-c' || (o % 997))
            WHEN v <= 7 THEN jsonb_build_object('product_id', 'sku-' || v, 'quantity', 1 + o % 5,
                                                'price_cents', 100 * v + o % 100)
            WHEN v = 9 THEN jsonb_build_object('tracking_number', 'trk-' || o)
            ELSE '{}'::jsonb END,
       jsonb_build_object(
         'command', CASE WHEN v = 1 THEN 'CreateOrder' WHEN v <= 7 THEN 'AddItem'
                         WHEN v = 8 THEN 'ConfirmOrder' WHEN v = 9 THEN 'ShipOrder'
                         ELSE 'DeliverOrder' END,
         'request_id', substr(h, 1, 16), 'trace_id', h, 'span_id', substr(h, 17, 16),
         'traceparent', '00-' || h || '-' || substr(h, 17, 16) || '-01') ||
       CASE WHEN $4::int > 0 THEN jsonb_build_object('blob', (
              SELECT left(string_agg('{"line":' || i || ',"sku":"sku-' || (i * 7919 % 1000) ||
                                     '","ref":"' || left(md5(h || i), 8) || '"}', ','), $4::int)
                FROM generate_series(1, ($4::int + 35) / 36) i))
            ELSE '{}'::jsonb END,
       at
  FROM gen
 ORDER BY (o - 1) / 1000, v, o
)SQL";

// $1 global head before, $2 last position before: the relay numbers in position order.
constexpr const char* kGlobalLogSql = R"SQL(
INSERT INTO global_log (global_position, position)
SELECT $1::bigint + row_number() OVER (ORDER BY position), position
  FROM events WHERE position > $2::bigint
)SQL";

// The state the write-side snapshots (codec::state_to_snapshot_json, state schema 1) at v10.
constexpr const char* kSnapshotsSql = R"SQL(
INSERT INTO snapshots (stream_id, version, state_schema, state, taken_at)
SELECT $3::text || '-' || o, 10, 1,
       jsonb_build_object(
         'order_id', $3::text || '-' || o, 'customer_id', $3::text || '-c' || (o % 997),
         'status', 4, 'tracking_number', 'trk-' || o, 'version', 10,
         'items', (SELECT jsonb_agg(jsonb_build_object('product_id', 'sku-' || v, 'quantity',
                                                       1 + o % 5, 'price_cents', 100 * v + o % 100)
                                    ORDER BY v)
                     FROM generate_series(2, 7) v)),
       timestamptz '2024-01-01 00:00:00+00' +
         (((o - 1) / 1000) * 10000 + 10000 + (o - 1) % 1000) * interval '1 millisecond'
  FROM generate_series($1::bigint, $2::bigint) o
 WHERE $4::int > 0 AND o % $4::int = 0
)SQL";

std::int64_t scalar(pqxx::transaction_base& tx, const char* sql) {
  return tx.exec1(sql)[0].as<std::int64_t>();
}

}  // namespace

PreloadResult preload_events(pqxx::connection& conn, const PreloadSpec& spec,
                             const std::function<void(std::int64_t)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  PreloadResult r;
  for (std::int64_t first = 1; first <= spec.orders; first += spec.chunk_orders) {
    const std::int64_t last = std::min(spec.orders, first + spec.chunk_orders - 1);
    pqxx::work tx(conn);
    tx.exec("SET LOCAL synchronous_commit = off");
    const auto head = scalar(tx, "SELECT coalesce(max(global_position), 0) FROM global_log");
    const auto before = scalar(tx, "SELECT coalesce(max(position), 0) FROM events");
    r.events += static_cast<std::int64_t>(
        tx.exec_params(kEventsSql, first, last, spec.prefix, spec.metadata_pad_bytes)
            .affected_rows());
    tx.exec_params(kGlobalLogSql, head, before);
    tx.exec_params(kSnapshotsSql, first, last, spec.prefix, spec.snapshot_every_nth_order);
    r.head = scalar(tx, "SELECT coalesce(max(global_position), 0) FROM global_log");
    tx.exec_params("UPDATE relay_state SET last_sequenced = $1, last_published = $1 WHERE id = 1",
                   r.head);
    tx.commit();
    r.orders += last - first + 1;
    if (progress) progress(r.events);
  }
  // Not on an empty store: tables analyzed while empty give the relay's and the projector's
  // statements plans for empty tables until autovacuum analyzes them again (~1 min of a crawl).
  if (spec.vacuum && r.events > 0) {
    pqxx::nontransaction n(conn);
    for (const char* t : {"events", "global_log", "snapshots"})
      n.exec(std::string("VACUUM (ANALYZE) ") + t);
    n.exec("CHECKPOINT");
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

double StoreSize::bytes_per_event() const {
  return events > 0 ? static_cast<double>(events_bytes + global_log_bytes + snapshots_bytes) /
                          static_cast<double>(events)
                    : 0;
}

StoreSize store_size(pqxx::connection& conn) {
  pqxx::read_transaction tx(conn);
  auto row = tx.exec1(
      "SELECT (SELECT count(*) FROM events), pg_total_relation_size('events'), "
      "pg_total_relation_size('global_log'), pg_total_relation_size('snapshots'), "
      "coalesce((SELECT pg_total_relation_size(reltoastrelid) FROM pg_class "
      "           WHERE oid = 'events'::regclass AND reltoastrelid <> 0), 0)");
  StoreSize s;
  s.events = row[0].as<std::int64_t>();
  s.events_bytes = row[1].as<std::int64_t>();
  s.global_log_bytes = row[2].as<std::int64_t>();
  s.snapshots_bytes = row[3].as<std::int64_t>();
  s.events_toast_bytes = row[4].as<std::int64_t>();
  return s;
}

}  // namespace orders::bench
