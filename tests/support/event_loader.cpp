#include "tests/support/event_loader.hpp"

#include <sstream>
#include <vector>

#include "common/codec/recorded_event.hpp"
#include "common/pg/migrations.hpp"
#include "read-side/projector/view_store.hpp"
#include "read-side/view/order_view.hpp"
#include "tests/support/services.hpp"

namespace orders::rebuild_test {

std::string migrated_database(const std::string& hint) {
  auto url = testing::shared_pg().create_database(hint);
  pqxx::connection conn(url);
  pg::apply_migrations(conn);
  return url;
}

namespace {

// $1 orders, $2 prefix. Event v of order o (v = 1..10).
constexpr const char* kLoadSql = R"SQL(
WITH gen AS (
  SELECT o, v, $2::text || '-' || o AS oid FROM generate_series(1, $1::bigint) o,
         generate_series(1, 10) v
)
INSERT INTO events (event_id, stream_id, version, type, schema_version, data, recorded_at)
SELECT gen_random_uuid(), oid, v,
       CASE WHEN v = 1 THEN 'OrderCreated' WHEN v <= 7 THEN 'OrderItemAdded'
            WHEN v = 8 THEN 'OrderItemRemoved' WHEN v = 9 THEN 'OrderConfirmed'
            ELSE 'OrderShipped' END,
       CASE WHEN v = 2 AND o % 10 = 0 THEN 1 WHEN v BETWEEN 2 AND 7 THEN 2 ELSE 1 END,
       CASE WHEN v = 1 THEN jsonb_build_object('order_id', oid, 'customer_id',
                                               $2::text || '-c' || (o % 997))
            WHEN v = 2 AND o % 10 = 0 THEN jsonb_build_object('product_id', 'sku-' || v,
                                               'quantity', 1 + o % 5, 'price', 12.34)
            WHEN v <= 7 THEN jsonb_build_object('product_id', 'sku-' || v, 'quantity', 1 + o % 5,
                                                'price_cents', 100 * v + o % 100)
            WHEN v = 8 THEN jsonb_build_object('product_id', 'sku-3')
            WHEN v = 9 THEN '{}'::jsonb
            ELSE jsonb_build_object('tracking_number', 'trk-' || o) END,
       timestamptz '2024-01-01 00:00:00+00' +
         (((o - 1) / 1000) * 10000 + v * 1000 + (o - 1) % 1000) * interval '1 millisecond'
  FROM gen
 ORDER BY (o - 1) / 1000, v, o
)SQL";

// $1 orders, $2 items per order, $3 product id length, $4 prefix.
constexpr const char* kWideSql = R"SQL(
INSERT INTO events (event_id, stream_id, version, type, schema_version, data)
SELECT gen_random_uuid(), $4::text || '-' || o, v,
       CASE WHEN v = 1 THEN 'OrderCreated' ELSE 'OrderItemAdded' END,
       CASE WHEN v = 1 THEN 1 ELSE 2 END,
       CASE WHEN v = 1 THEN jsonb_build_object('order_id', $4::text || '-' || o,
                                               'customer_id', $4::text || '-c' || (o % 97))
            ELSE jsonb_build_object('product_id', lpad(v::text, $3::int, 'p'), 'quantity', 1,
                                    'price_cents', 100 + v) END
  FROM generate_series(1, $1::bigint) o, generate_series(1, 1 + $2::int) v
 ORDER BY v, o
)SQL";

constexpr const char* kSequenceSql = R"SQL(
WITH head AS (SELECT coalesce(max(global_position), 0) AS h FROM global_log),
     todo AS (SELECT e.position FROM events e
               WHERE NOT EXISTS (SELECT 1 FROM global_log g WHERE g.position = e.position)
                 AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.position = e.position)),
     ins AS (INSERT INTO global_log (global_position, position)
             SELECT (SELECT h FROM head) + row_number() OVER (ORDER BY t.position), t.position
               FROM todo t RETURNING global_position)
UPDATE relay_state SET last_sequenced = (SELECT coalesce(max(global_position), 0) FROM ins),
                       last_published = (SELECT coalesce(max(global_position), 0) FROM ins)
 WHERE id = 1 AND EXISTS (SELECT 1 FROM ins)
)SQL";

// A record (orders_record / customer_orders_record encoding) without derived noise.
nlohmann::json normalized(const std::string& table, nlohmann::json r) {
  if (table != "orders") {
    for (const char* k : {"tracking_number", "created_at_us", "confirmed_at_us", "shipped_at_us",
                          "delivered_at_us", "item_count"}) {
      r.erase(k);
    }
  }
  return r;
}

}  // namespace

std::int64_t load_events(pqxx::connection& conn, const LoadSpec& spec) {
  pqxx::work tx(conn);
  auto r = tx.exec_params(kLoadSql, spec.orders, spec.prefix);
  tx.exec(kSequenceSql);
  tx.commit();
  return static_cast<std::int64_t>(r.affected_rows());
}

std::int64_t load_wide_orders(pqxx::connection& conn, std::int64_t orders, int items, int id_bytes,
                              const std::string& prefix) {
  pqxx::work tx(conn);
  auto r = tx.exec_params(kWideSql, orders, items, id_bytes, prefix);
  tx.exec(kSequenceSql);
  tx.commit();
  return static_cast<std::int64_t>(r.affected_rows());
}

std::map<std::string, nlohmann::json> expected_rows(pqxx::connection& conn,
                                                    const std::string& table) {
  std::vector<codec::RecordedEvent> events;
  {
    pqxx::read_transaction tx(conn);
    for (const auto& row : tx.exec(std::string("SELECT ") + read_side::kEventColumns +
                                   " FROM global_log g JOIN events e ON e.position = g.position"
                                   " ORDER BY g.global_position")) {
      events.push_back(read_side::event_from_row(row));
    }
  }
  auto folded = read_side::fold_all(events);
  if (auto* err = std::get_if<read_side::FoldError>(&folded)) {
    throw std::runtime_error("reference fold failed: " + err->message);
  }
  std::map<std::string, nlohmann::json> out;
  for (const auto& [id, view] : std::get<0>(folded)) {
    out[id] = normalized(table, table == "orders" ? read_side::orders_record(view)
                                                  : read_side::customer_orders_record(view));
  }
  return out;
}

std::map<std::string, nlohmann::json> read_table(pqxx::connection& conn, const std::string& table) {
  // Through the projector's own row reader and record encoding, with the lines table beside.
  const auto kind = table.rfind("orders", 0) == 0 ? read_side::ProjectionKind::Orders
                                                  : read_side::ProjectionKind::Customers;
  std::map<std::string, nlohmann::json> out;
  pqxx::read_transaction tx(conn);
  for (const auto& row : tx.exec(read_side::all_views_sql(kind, table))) {
    const auto view = read_side::view_from_row(kind, row);
    out[view.state.order_id] = normalized(table, kind == read_side::ProjectionKind::Orders
                                                     ? read_side::orders_record(view)
                                                     : read_side::customer_orders_record(view));
  }
  return out;
}

std::string diff_rows(const std::map<std::string, nlohmann::json>& expected,
                      const std::map<std::string, nlohmann::json>& actual) {
  std::ostringstream out;
  int shown = 0;
  std::size_t differ = 0;
  for (const auto& [id, row] : expected) {
    auto it = actual.find(id);
    if (it == actual.end()) {
      ++differ;
      if (shown++ < 5) out << "missing " << id << "; ";
    } else if (it->second != row) {
      ++differ;
      if (shown++ < 5)
        out << id << " expected " << row.dump() << " got " << it->second.dump() << "; ";
    }
  }
  for (const auto& [id, row] : actual) {
    if (!expected.count(id)) {
      ++differ;
      if (shown++ < 5) out << "unexpected " << id << "; ";
    }
  }
  if (differ == 0) return "";
  return std::to_string(differ) + " rows differ (expected " + std::to_string(expected.size()) +
         ", table " + std::to_string(actual.size()) + "): " + out.str();
}

}  // namespace orders::rebuild_test
