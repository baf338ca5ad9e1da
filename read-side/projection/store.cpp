#include "projection/store.hpp"

#include <stdexcept>

#include "projection/pg_text.hpp"

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

std::string stmt_name(const char* what, const ProjectionDef& p) { return std::string("rs_") + what + "_" + p.name; }

std::optional<std::int64_t> opt_int(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::int64_t>();
}

}  // namespace

namespace {
std::string view_columns(ProjectionKind kind) {
  return kind == ProjectionKind::Orders
                         ? "order_id, customer_id, status, items::text, coalesce(tracking_number, ''), " +
                               us_of("created_at") + ", " + us_of("confirmed_at") + ", " +
                               us_of("shipped_at") + ", " + us_of("delivered_at") +
                               ", version, last_global_position"
                         : std::string("order_id, customer_id, status, items::text, version, last_global_position");
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

std::string write_views_sql(ProjectionKind kind, const std::string& table) {
  if (kind == ProjectionKind::Orders) {
    return "WITH r AS MATERIALIZED (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
           "$4::jsonb[], $5::bigint[], $6::int[], $7::text[], $8::bigint[], $9::bigint[], "
           "$10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[]) AS r("
           "order_id, customer_id, status, items, total_cents, item_count, tracking_number, "
           "created_at_us, confirmed_at_us, shipped_at_us, delivered_at_us, version, "
           "last_global_position, stored_version)), "
           "u AS (UPDATE " + table + " AS t SET customer_id = r.customer_id, status = r.status, "
           "items = r.items, total_cents = r.total_cents, item_count = r.item_count, "
           "tracking_number = r.tracking_number, created_at = " + ts_of("r.created_at_us") +
           ", confirmed_at = " + ts_of("r.confirmed_at_us") + ", shipped_at = " +
           ts_of("r.shipped_at_us") + ", delivered_at = " + ts_of("r.delivered_at_us") +
           ", version = r.version, last_global_position = r.last_global_position FROM r "
           "WHERE r.stored_version > 0 AND t.order_id = r.order_id AND t.version = r.stored_version "
           "RETURNING 1), "
           "i AS (INSERT INTO " + table +
           " (order_id, customer_id, status, items, total_cents, item_count, tracking_number, "
           "created_at, confirmed_at, shipped_at, delivered_at, version, last_global_position) "
           "SELECT r.order_id, r.customer_id, r.status, r.items, r.total_cents, r.item_count, "
           "r.tracking_number, " + ts_of("r.created_at_us") + ", " + ts_of("r.confirmed_at_us") +
           ", " + ts_of("r.shipped_at_us") + ", " + ts_of("r.delivered_at_us") +
           ", r.version, r.last_global_position FROM r WHERE r.stored_version = 0 RETURNING 1) "
           "SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM i)";
  }
  return "WITH r AS MATERIALIZED (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
         "$4::jsonb[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[]) AS r(order_id, "
         "customer_id, status, items, total_cents, version, last_global_position, stored_version)), "
         "u AS (UPDATE " + table + " AS t SET customer_id = r.customer_id, status = r.status, "
         "items = r.items, total_cents = r.total_cents, version = r.version, "
         "last_global_position = r.last_global_position FROM r WHERE r.stored_version > 0 "
         "AND t.order_id = r.order_id AND t.version = r.stored_version RETURNING 1), "
         "i AS (INSERT INTO " + table + " (order_id, customer_id, status, items, total_cents, "
         "version, last_global_position) SELECT r.order_id, r.customer_id, r.status, r.items, "
         "r.total_cents, r.version, r.last_global_position FROM r WHERE r.stored_version = 0 "
         "RETURNING 1) "
         "SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM i)";
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
  for (const auto& p : projections()) {
    conn.prepare(stmt_name("load", p), "SELECT " + view_columns(p.kind) + " FROM " + p.table +
                                           " WHERE order_id = ANY ($1::text[])");
    conn.prepare(stmt_name("upsert", p), upsert_views_sql(p.kind, p.table));
    conn.prepare(stmt_name("write", p), write_views_sql(p.kind, p.table));
  }
  {
    std::string oids = "SELECT ";
    for (const auto& p : projections()) {
      if (oids.size() > 7) oids += ", ";
      oids += "to_regclass('" + p.table + "')::oid::bigint";
    }
    conn.prepare("rs_table_oids", oids);
  }
  conn.prepare("rs_checkpoints",
               "INSERT INTO projection_checkpoints AS c (projection, partition, "
               "last_global_position, last_recorded_at, events_applied, updated_at) "
               "SELECT a.projection, $1::int, a.last_global_position, "
               "timestamptz 'epoch' + a.last_recorded_at_us * interval '1 microsecond', "
               "a.events_applied, now() FROM unnest($2::text[], $3::bigint[], $4::bigint[], "
               "$5::bigint[]) AS a(projection, last_global_position, last_recorded_at_us, "
               "events_applied) "
               "ON CONFLICT (projection, partition) DO UPDATE SET "
               "last_global_position = GREATEST(c.last_global_position, EXCLUDED.last_global_position), "
               "last_recorded_at = CASE WHEN EXCLUDED.last_global_position >= c.last_global_position "
               "THEN EXCLUDED.last_recorded_at ELSE c.last_recorded_at END, "
               "events_applied = c.events_applied + EXCLUDED.events_applied, updated_at = now()");
  conn.prepare("rs_stream_events", std::string("SELECT ") + kEventColumns + " FROM " + kEventFrom +
                                       " WHERE e.stream_id = $1 AND e.version BETWEEN $2 AND $3"
                                       " ORDER BY e.version");
  conn.prepare("rs_checkpoint",
               "INSERT INTO projection_checkpoints AS c (projection, partition, "
               "last_global_position, last_recorded_at, events_applied, updated_at) "
               "VALUES ($1, $2, $3, timestamptz 'epoch' + $4::bigint * interval '1 microsecond', "
               "$5, now()) ON CONFLICT (projection, partition) DO UPDATE SET "
               "last_global_position = GREATEST(c.last_global_position, EXCLUDED.last_global_position), "
               "last_recorded_at = CASE WHEN EXCLUDED.last_global_position >= c.last_global_position "
               "THEN EXCLUDED.last_recorded_at ELSE c.last_recorded_at END, "
               "events_applied = c.events_applied + EXCLUDED.events_applied, updated_at = now()");
}

std::map<std::string, OrderView> load_views(pqxx::transaction_base& tx, const ProjectionDef& p,
                                            const std::vector<std::string>& order_ids) {
  std::map<std::string, OrderView> out;
  if (order_ids.empty()) return out;
  PgArrayText ids;
  for (const auto& id : order_ids) ids.add(id);
  for (const auto& row : tx.exec_prepared(stmt_name("load", p), ids.finish())) {
    auto v = view_from_row(p.kind, row);
    auto id = v.state.order_id;
    out.emplace(std::move(id), std::move(v));
  }
  return out;
}

void upsert_views(pqxx::transaction_base& tx, const ProjectionDef& p,
                  const std::vector<const OrderView*>& views) {
  if (views.empty()) return;
  auto records = nlohmann::json::array();
  for (const auto* v : views) records.push_back(record_for(p.kind, *v));
  tx.exec_prepared(stmt_name("upsert", p), records.dump());
}

std::vector<std::int64_t> read_table_oids(pqxx::transaction_base& tx) {
  std::vector<std::int64_t> out;
  const auto row = tx.exec_prepared1("rs_table_oids");
  for (const auto& f : row) out.push_back(f.is_null() ? 0 : f.as<std::int64_t>());
  return out;
}

bool write_views(pqxx::transaction_base& tx, const ProjectionDef& p,
                 const std::vector<ViewWrite>& rows) {
  if (rows.empty()) return true;
  PgArrayText order_id, customer_id, status, items, total, version, last_position, stored;
  for (const auto& r : rows) {
    const auto& s = r.view->state;
    order_id.add(s.order_id);
    customer_id.add(s.customer_id);
    status.add(domain::to_string(s.status));
    items.add(items_json_text(s.items));
    total.add(domain::total_cents(s));
    version.add(s.version);
    last_position.add(r.view->last_global_position);
    stored.add(r.stored_version);
  }
  pqxx::result res;
  if (p.kind == ProjectionKind::Orders) {
    PgArrayText item_count, tracking, created, confirmed, shipped, delivered;
    for (const auto& r : rows) {
      const auto& v = *r.view;
      item_count.add(static_cast<std::int64_t>(v.state.items.size()));
      if (v.state.tracking_number.empty()) {
        tracking.add_null();
      } else {
        tracking.add(v.state.tracking_number);
      }
      created.add(v.created_at_us);
      confirmed.add(v.confirmed_at_us);
      shipped.add(v.shipped_at_us);
      delivered.add(v.delivered_at_us);
    }
    res = tx.exec_prepared(stmt_name("write", p), order_id.finish(), customer_id.finish(),
                           status.finish(), items.finish(), total.finish(), item_count.finish(),
                           tracking.finish(), created.finish(), confirmed.finish(),
                           shipped.finish(), delivered.finish(), version.finish(),
                           last_position.finish(), stored.finish());
  } else {
    res = tx.exec_prepared(stmt_name("write", p), order_id.finish(), customer_id.finish(),
                           status.finish(), items.finish(), total.finish(), version.finish(),
                           last_position.finish(), stored.finish());
  }
  return res.at(0).at(0).as<std::int64_t>() == static_cast<std::int64_t>(rows.size());
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

void advance_checkpoint(pqxx::transaction_base& tx, const std::string& projection, int partition,
                        const CheckpointAdvance& a) {
  tx.exec_prepared("rs_checkpoint", projection, partition, a.last_global_position,
                   a.last_recorded_at_us, a.events_applied);
}

void advance_checkpoints(pqxx::transaction_base& tx, int partition,
                         const std::vector<std::pair<std::string, CheckpointAdvance>>& advances) {
  if (advances.empty()) return;
  PgArrayText names, positions, recorded, applied;
  for (const auto& [name, a] : advances) {
    names.add(name);
    positions.add(a.last_global_position);
    recorded.add(a.last_recorded_at_us);
    applied.add(a.events_applied);
  }
  tx.exec_prepared("rs_checkpoints", partition, names.finish(), positions.finish(),
                   recorded.finish(), applied.finish());
}

}  // namespace orders::read_side
