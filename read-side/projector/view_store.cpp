#include "read-side/projector/view_store.hpp"

#include <stdexcept>

#include "common/pg/sqlstate.hpp"
#include "read-side/projector/locks.hpp"
#include "read-side/projector/pg_text.hpp"

namespace orders::read_side {

const std::vector<ProjectionDef>& projections() {
  static const std::vector<ProjectionDef> all = {
      {"orders", "orders", ProjectionKind::Orders},
      {"customers", "customer_orders", ProjectionKind::Customers},
  };
  return all;
}

std::optional<ProjectionDef> find_projection(std::string_view name) {
  for (const auto& p : projections()) {
    if (p.name == name) return p;
  }
  return std::nullopt;
}

namespace {

constexpr const char* kUs = "(extract(epoch from %) * 1000000)::bigint";

std::string us_of(const std::string& column) {
  std::string s = kUs;
  s.replace(s.find('%'), 1, column);
  return s;
}

std::string ts_of(const std::string& us_column) {
  return "timestamptz 'epoch' + " + us_column + " * interval '1 microsecond'";
}

std::optional<std::int64_t> opt_int(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::int64_t>();
}

}  // namespace

namespace {
std::string view_columns(ProjectionKind kind) {
  return kind == ProjectionKind::Orders
             ? "order_id, customer_id, status, items::text, coalesce(tracking_number, ''), " +
                   us_of("created_at") + ", " + us_of("confirmed_at") + ", " + us_of("shipped_at") +
                   ", " + us_of("delivered_at") + ", version, last_global_position"
             : std::string(
                   "order_id, customer_id, status, items::text, version, last_global_position");
}
}  // namespace

std::string all_views_sql(ProjectionKind kind, const std::string& table) {
  return "SELECT " + view_columns(kind) + " FROM " + table;
}

std::string load_views_sql(ProjectionKind kind, const std::string& table, bool for_update) {
  return all_views_sql(kind, table) +
         " WHERE order_id = ANY (SELECT jsonb_array_elements_text($1::jsonb))" +
         (for_update ? " ORDER BY order_id FOR UPDATE" : "");
}

std::string upsert_views_sql(ProjectionKind kind, const std::string& table) {
  if (kind == ProjectionKind::Orders) {
    return "INSERT INTO " + table +
           " AS t (order_id, customer_id, status, items, total_cents, item_count, tracking_number, "
           "created_at, confirmed_at, shipped_at, delivered_at, version, last_global_position) "
           "SELECT r.order_id, r.customer_id, r.status, r.items, r.total_cents, r.item_count, "
           "r.tracking_number, " +
           ts_of("r.created_at_us") + ", " + ts_of("r.confirmed_at_us") + ", " +
           ts_of("r.shipped_at_us") + ", " + ts_of("r.delivered_at_us") +
           ", r.version, r.last_global_position "
           "FROM jsonb_to_recordset($1::jsonb) AS r(order_id text, customer_id text, status text, "
           "items jsonb, total_cents bigint, item_count int, tracking_number text, "
           "created_at_us bigint, confirmed_at_us bigint, shipped_at_us bigint, "
           "delivered_at_us bigint, version bigint, last_global_position bigint) "
           "ON CONFLICT (order_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, "
           "status = EXCLUDED.status, items = EXCLUDED.items, total_cents = EXCLUDED.total_cents, "
           "item_count = EXCLUDED.item_count, tracking_number = EXCLUDED.tracking_number, "
           "created_at = EXCLUDED.created_at, confirmed_at = EXCLUDED.confirmed_at, "
           "shipped_at = EXCLUDED.shipped_at, delivered_at = EXCLUDED.delivered_at, "
           "version = EXCLUDED.version, last_global_position = EXCLUDED.last_global_position "
           "WHERE t.version < EXCLUDED.version";
  }
  return "INSERT INTO " + table +
         " AS t (order_id, customer_id, status, items, total_cents, version, last_global_position) "
         "SELECT r.order_id, r.customer_id, r.status, r.items, r.total_cents, r.version, "
         "r.last_global_position FROM jsonb_to_recordset($1::jsonb) AS r(order_id text, "
         "customer_id text, status text, items jsonb, total_cents bigint, version bigint, "
         "last_global_position bigint) "
         "ON CONFLICT (order_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, "
         "status = EXCLUDED.status, items = EXCLUDED.items, total_cents = EXCLUDED.total_cents, "
         "version = EXCLUDED.version, last_global_position = EXCLUDED.last_global_position "
         "WHERE t.version < EXCLUDED.version";
}

const char* const kEventColumns =
    "e.event_id::text, e.stream_id, e.version, e.position, g.global_position, e.type, "
    "e.schema_version, (extract(epoch from e.recorded_at) * 1000000)::bigint, e.data::text, "
    "e.metadata::text";
const char* const kEventFrom = "events e LEFT JOIN global_log g ON g.position = e.position";

codec::RecordedEvent event_from_row(const pqxx::row& row) {
  codec::RecordedEvent e;
  e.event_id = row[0].as<std::string>();
  e.stream_id = row[1].as<std::string>();
  e.version = row[2].as<std::int64_t>();
  e.position = row[3].as<std::int64_t>();
  e.global_position = opt_int(row[4]);
  e.type = row[5].as<std::string>();
  e.schema_version = row[6].as<int>();
  e.recorded_at_us = row[7].as<std::int64_t>();
  e.data = nlohmann::json::parse(row[8].as<std::string>());
  e.metadata = nlohmann::json::parse(row[9].as<std::string>());
  return e;
}

OrderView view_from_row(ProjectionKind kind, const pqxx::row& row) {
  OrderView v;
  v.state.order_id = row[0].as<std::string>();
  v.state.customer_id = row[1].as<std::string>();
  auto status = parse_status(row[2].as<std::string>());
  if (!status) throw std::runtime_error("read model row " + v.state.order_id + " has a bad status");
  v.state.status = *status;
  auto items = items_from_json(nlohmann::json::parse(row[3].as<std::string>()));
  if (!items) throw std::runtime_error("read model row " + v.state.order_id + " has bad items");
  v.state.items = std::move(*items);
  if (kind == ProjectionKind::Orders) {
    v.state.tracking_number = row[4].as<std::string>();
    v.created_at_us = opt_int(row[5]);
    v.confirmed_at_us = opt_int(row[6]);
    v.shipped_at_us = opt_int(row[7]);
    v.delivered_at_us = opt_int(row[8]);
    v.state.version = row[9].as<std::int64_t>();
    v.last_global_position = row[10].as<std::int64_t>();
  } else {
    v.state.version = row[4].as<std::int64_t>();
    v.last_global_position = row[5].as<std::int64_t>();
  }
  return v;
}

nlohmann::json record_for(ProjectionKind kind, const OrderView& v) {
  return kind == ProjectionKind::Orders ? orders_record(v) : customer_orders_record(v);
}

void prepare_projector_statements(pqxx::connection& conn) {
  {
    // Both tables' rows of the batch's orders (primary-key lookups) and the tables' oids, in one
    // statement: k = projection index, or -1 for the oids row (in version, last_global_position).
    const auto& o = projections().at(0);
    const auto& c = projections().at(1);
    conn.prepare(
        "rs_load_batch",
        "SELECT 0 AS k, " + view_columns(o.kind) + " FROM " + o.table +
            " WHERE order_id = ANY ($1::text[]) UNION ALL "
            "SELECT 1, order_id, customer_id, status, items::text, NULL, NULL, NULL, NULL, "
            "NULL, version, last_global_position FROM " +
            c.table +
            " WHERE order_id = ANY ($2::text[]) UNION ALL "
            "SELECT -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
            "to_regclass('" +
            o.table + "')::oid::bigint, to_regclass('" + c.table + "')::oid::bigint");
    conn.prepare("rs_apply_group",
                 "SELECT rs_apply_group($1::int, $2::int, $3::bigint[], $4::text[], $5::text[], "
                 "$6::text[], $7::jsonb[], $8::bigint[], $9::int[], $10::text[], $11::bigint[], "
                 "$12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], "
                 "$17::bigint[], $18::text[], $19::text[], $20::text[], $21::jsonb[], "
                 "$22::bigint[], $23::bigint[], $24::bigint[], $25::bigint[], $26::int[], "
                 "$27::text[], $28::bigint[], $29::bigint[], $30::bigint[])");
  }
  conn.prepare("rs_stream_events", std::string("SELECT ") + kEventColumns + " FROM " + kEventFrom +
                                       " WHERE e.stream_id = $1 AND e.version BETWEEN $2 AND $3"
                                       " ORDER BY e.version");
}

std::vector<codec::RecordedEvent> load_stream_events(pqxx::transaction_base& tx,
                                                     const std::string& order_id,
                                                     std::int64_t from_version,
                                                     std::int64_t to_version) {
  std::vector<codec::RecordedEvent> out;
  for (const auto& row : tx.exec_prepared("rs_stream_events", order_id, from_version, to_version)) {
    out.push_back(event_from_row(row));
  }
  return out;
}

LoadedViews load_batch_views(pqxx::transaction_base& tx,
                             const std::vector<std::vector<std::string>>& ids_by_projection) {
  if (projections().size() != 2 || ids_by_projection.size() != 2) {
    throw std::logic_error("load_batch_views: rs_load_batch reads exactly two projections");
  }
  LoadedViews out;
  out.by_projection.resize(2);
  PgArrayText orders_ids, customers_ids;
  for (const auto& id : ids_by_projection[0]) orders_ids.add(id);
  for (const auto& id : ids_by_projection[1]) customers_ids.add(id);
  for (const auto& row :
       tx.exec_prepared("rs_load_batch", orders_ids.finish(), customers_ids.finish())) {
    const int k = row[0].as<int>();
    if (k < 0) {
      out.table_oids = {row[10].is_null() ? 0 : row[10].as<std::int64_t>(),
                        row[11].is_null() ? 0 : row[11].as<std::int64_t>()};
      continue;
    }
    OrderView v;
    v.state.order_id = row[1].as<std::string>();
    v.state.customer_id = row[2].as<std::string>();
    auto status = parse_status(row[3].as<std::string>());
    if (!status)
      throw std::runtime_error("read model row " + v.state.order_id + " has a bad status");
    v.state.status = *status;
    auto items = items_from_json(nlohmann::json::parse(row[4].as<std::string>()));
    if (!items) throw std::runtime_error("read model row " + v.state.order_id + " has bad items");
    v.state.items = std::move(*items);
    if (k == 0) {
      v.state.tracking_number = row[5].as<std::string>();
      v.created_at_us = opt_int(row[6]);
      v.confirmed_at_us = opt_int(row[7]);
      v.shipped_at_us = opt_int(row[8]);
      v.delivered_at_us = opt_int(row[9]);
    }
    v.state.version = row[10].as<std::int64_t>();
    v.last_global_position = row[11].as<std::int64_t>();
    auto id = v.state.order_id;
    out.by_projection.at(static_cast<std::size_t>(k)).emplace(std::move(id), std::move(v));
  }
  return out;
}

BatchWrite write_batch(pqxx::transaction_base& tx, const std::vector<std::int64_t>& table_oids,
                       const std::vector<std::vector<ViewWrite>>& writes_by_projection,
                       const std::vector<CheckpointRow>& checkpoints) {
  if (projections().size() != 2 || writes_by_projection.size() != 2) {
    throw std::logic_error("write_batch: rs_apply_group writes exactly two projections");
  }
  PgArrayText oids;
  for (auto o : table_oids) oids.add(o);
  PgArrayText o_id, o_customer, o_status, o_items, o_total, o_count, o_tracking, o_created,
      o_confirmed, o_shipped, o_delivered, o_version, o_last, o_stored;
  for (const auto& r : writes_by_projection[0]) {
    const auto& v = *r.view;
    const auto& s = v.state;
    o_id.add(s.order_id);
    o_customer.add(s.customer_id);
    o_status.add(domain::to_string(s.status));
    o_items.add(items_json_text(s.items));
    o_total.add(domain::total_cents(s));
    o_count.add(static_cast<std::int64_t>(s.items.size()));
    if (s.tracking_number.empty()) {
      o_tracking.add_null();
    } else {
      o_tracking.add(s.tracking_number);
    }
    o_created.add(v.created_at_us);
    o_confirmed.add(v.confirmed_at_us);
    o_shipped.add(v.shipped_at_us);
    o_delivered.add(v.delivered_at_us);
    o_version.add(s.version);
    o_last.add(v.last_global_position);
    o_stored.add(r.stored_version);
  }
  PgArrayText c_id, c_customer, c_status, c_items, c_total, c_version, c_last, c_stored;
  for (const auto& r : writes_by_projection[1]) {
    const auto& s = r.view->state;
    c_id.add(s.order_id);
    c_customer.add(s.customer_id);
    c_status.add(domain::to_string(s.status));
    c_items.add(items_json_text(s.items));
    c_total.add(domain::total_cents(s));
    c_version.add(s.version);
    c_last.add(r.view->last_global_position);
    c_stored.add(r.stored_version);
  }
  PgArrayText partitions, names, positions, recorded, applied;
  for (const auto& [name, partition, a] : checkpoints) {
    partitions.add(static_cast<std::int64_t>(partition));
    names.add(name);
    positions.add(a.last_global_position);
    recorded.add(a.last_recorded_at_us);
    applied.add(a.events_applied);
  }
  try {
    const auto row = tx.exec_prepared1(
        "rs_apply_group", kCutoverLockClass, static_cast<int>(projections().size()), oids.finish(),
        o_id.finish(), o_customer.finish(), o_status.finish(), o_items.finish(), o_total.finish(),
        o_count.finish(), o_tracking.finish(), o_created.finish(), o_confirmed.finish(),
        o_shipped.finish(), o_delivered.finish(), o_version.finish(), o_last.finish(),
        o_stored.finish(), c_id.finish(), c_customer.finish(), c_status.finish(), c_items.finish(),
        c_total.finish(), c_version.finish(), c_last.finish(), c_stored.finish(),
        partitions.finish(), names.finish(), positions.finish(), recorded.finish(),
        applied.finish());
    return row[0].as<int>() == 0 ? BatchWrite::Written : BatchWrite::TablesSwapped;
  } catch (const pqxx::sql_error& e) {
    // RS001: a row was not at its loaded version; 23505 (unique_violation): a row written
    // as new exists. Either way nothing was written.
    if (pg::has_sqlstate(e, pg::sqlstate::kStaleRow) ||
        pg::has_sqlstate(e, pg::sqlstate::kUniqueViolation))
      return BatchWrite::Stale;
    throw;
  }
}

}  // namespace orders::read_side
