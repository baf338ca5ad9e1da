#include "read-side/projector/view_store.hpp"

#include <algorithm>
#include <iterator>
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

std::string lines_table(const std::string& table) {
  // orders -> order_items, customer_orders -> customer_order_items, X_shadow -> X's lines_shadow
  const std::string shadow = "_shadow";
  const bool is_shadow = table.size() > shadow.size() &&
                         table.compare(table.size() - shadow.size(), shadow.size(), shadow) == 0;
  std::string base = is_shadow ? table.substr(0, table.size() - shadow.size()) : table;
  if (base.size() < 6 || base.compare(base.size() - 6, 6, "orders") != 0) {
    throw std::logic_error("lines_table: " + table + " is not a projection table");
  }
  base.replace(base.size() - 6, 6, "order_items");
  return is_shadow ? base + shadow : base;
}

namespace {

// The order's lines as lines_to_json's JSON text, from the lines table beside `table` (alias t).
std::string lines_json_sql(const std::string& table) {
  return "(SELECT coalesce(jsonb_agg(jsonb_build_object('product_id', l.product_id, 'quantity', "
         "l.quantity, 'price_cents', l.price_cents, 'line', l.line) ORDER BY l.line), '[]') FROM " +
         lines_table(table) + " l WHERE l.order_id = t.order_id)::text";
}

std::string view_columns(ProjectionKind kind, const std::string& table) {
  const std::string common = "t.order_id, t.customer_id, t.status, " + lines_json_sql(table);
  return kind == ProjectionKind::Orders
             ? common + ", coalesce(t.tracking_number, ''), " + us_of("t.created_at") + ", " +
                   us_of("t.confirmed_at") + ", " + us_of("t.shipped_at") + ", " +
                   us_of("t.delivered_at") + ", t.version, t.last_global_position"
             : common + ", t.version, t.last_global_position";
}

// The lines of the rows an upsert CTE `up` wrote, from the records CTE `r`: the lines gone are
// deleted and the others upserted (disjoint sets: one statement cannot change a row twice).
std::string upsert_lines_sql(const std::string& table) {
  const auto lines = lines_table(table);
  return "li AS (SELECT r.order_id, x.product_id, x.line, x.quantity, x.price_cents FROM r "
         "JOIN up ON up.order_id = r.order_id, jsonb_to_recordset(r.items) AS x(product_id "
         "text, line bigint, quantity bigint, price_cents bigint)), "
         "gone AS (DELETE FROM " +
         lines +
         " d USING up WHERE d.order_id = up.order_id AND NOT EXISTS (SELECT 1 FROM li "
         "WHERE li.order_id = d.order_id AND li.product_id = d.product_id)) "
         "INSERT INTO " +
         lines +
         " AS t (order_id, product_id, line, quantity, price_cents) SELECT order_id, "
         "product_id, line, quantity, price_cents FROM li ON CONFLICT (order_id, product_id) DO "
         "UPDATE SET line = EXCLUDED.line, quantity = EXCLUDED.quantity, "
         "price_cents = EXCLUDED.price_cents";
}

}  // namespace

std::string all_views_sql(ProjectionKind kind, const std::string& table) {
  return "SELECT " + view_columns(kind, table) + " FROM " + table + " t";
}

std::string load_views_sql(ProjectionKind kind, const std::string& table, bool for_update) {
  return all_views_sql(kind, table) +
         " WHERE t.order_id = ANY (SELECT jsonb_array_elements_text($1::jsonb))" +
         (for_update ? " ORDER BY t.order_id FOR UPDATE OF t" : "");
}

std::string upsert_views_sql(ProjectionKind kind, const std::string& table) {
  if (kind == ProjectionKind::Orders) {
    return "WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(order_id text, "
           "customer_id text, status text, items jsonb, total_cents bigint, item_count int, "
           "tracking_number text, created_at_us bigint, confirmed_at_us bigint, "
           "shipped_at_us bigint, delivered_at_us bigint, version bigint, "
           "last_global_position bigint)), "
           "up AS (INSERT INTO " +
           table +
           " AS t (order_id, customer_id, status, total_cents, item_count, tracking_number, "
           "created_at, confirmed_at, shipped_at, delivered_at, version, last_global_position) "
           "SELECT r.order_id, r.customer_id, r.status, r.total_cents, r.item_count, "
           "r.tracking_number, " +
           ts_of("r.created_at_us") + ", " + ts_of("r.confirmed_at_us") + ", " +
           ts_of("r.shipped_at_us") + ", " + ts_of("r.delivered_at_us") +
           ", r.version, r.last_global_position FROM r "
           "ON CONFLICT (order_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, "
           "status = EXCLUDED.status, total_cents = EXCLUDED.total_cents, "
           "item_count = EXCLUDED.item_count, tracking_number = EXCLUDED.tracking_number, "
           "created_at = EXCLUDED.created_at, confirmed_at = EXCLUDED.confirmed_at, "
           "shipped_at = EXCLUDED.shipped_at, delivered_at = EXCLUDED.delivered_at, "
           "version = EXCLUDED.version, last_global_position = EXCLUDED.last_global_position "
           "WHERE t.version < EXCLUDED.version RETURNING t.order_id), " +
           upsert_lines_sql(table);
  }
  return "WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(order_id text, "
         "customer_id text, status text, items jsonb, total_cents bigint, version bigint, "
         "last_global_position bigint)), "
         "up AS (INSERT INTO " +
         table +
         " AS t (order_id, customer_id, status, total_cents, version, last_global_position) "
         "SELECT r.order_id, r.customer_id, r.status, r.total_cents, r.version, "
         "r.last_global_position FROM r "
         "ON CONFLICT (order_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, "
         "status = EXCLUDED.status, total_cents = EXCLUDED.total_cents, "
         "version = EXCLUDED.version, last_global_position = EXCLUDED.last_global_position "
         "WHERE t.version < EXCLUDED.version RETURNING t.order_id), " +
         upsert_lines_sql(table);
}

const char* const kEventColumns =
    "e.event_id::text, e.stream_id, e.version, e.position, g.global_position, e.type, "
    "e.schema_version, (extract(epoch from e.recorded_at) * 1000000)::bigint, e.data::text, "
    "e.metadata::text";
const char* const kEventFrom = "all_events e LEFT JOIN global_log g ON g.position = e.position";

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
  if (!set_lines_from_json(v, nlohmann::json::parse(row[3].as<std::string>())))
    throw std::runtime_error("read model row " + v.state.order_id + " has bad lines");
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
    // Both tables' rows of the batch's orders (primary-key lookups) and the oids of the four
    // tables, in one statement: k = projection index, or -1 for the oids row (in the four
    // timestamp columns). Their lines: rs_load_lines (k = projection index).
    const auto& o = projections().at(0);
    const auto& c = projections().at(1);
    const std::string oid = "::regclass::oid::bigint";
    conn.prepare(
        "rs_load_batch",
        "SELECT 0 AS k, t.order_id, t.customer_id, t.status, coalesce(t.tracking_number, ''), " +
            us_of("t.created_at") + ", " + us_of("t.confirmed_at") + ", " + us_of("t.shipped_at") +
            ", " + us_of("t.delivered_at") + ", t.version, t.last_global_position FROM " + o.table +
            " t WHERE t.order_id = ANY ($1::text[]) UNION ALL "
            "SELECT 1, order_id, customer_id, status, NULL, NULL, NULL, NULL, NULL, version, "
            "last_global_position FROM " +
            c.table +
            " WHERE order_id = ANY ($2::text[]) UNION ALL "
            "SELECT -1, NULL, NULL, NULL, NULL, '" +
            o.table + "'" + oid + ", '" + c.table + "'" + oid + ", '" + lines_table(o.table) + "'" +
            oid + ", '" + lines_table(c.table) + "'" + oid + ", NULL, NULL");
    conn.prepare("rs_load_lines",
                 "SELECT 0 AS k, order_id, product_id, quantity, price_cents, line FROM " +
                     lines_table(o.table) +
                     " WHERE order_id = ANY ($1::text[]) UNION ALL "
                     "SELECT 1, order_id, product_id, quantity, price_cents, line FROM " +
                     lines_table(c.table) + " WHERE order_id = ANY ($2::text[]) ORDER BY 1, 2, 6");
    // rs_apply_group's parameters, group by group (sql/functions/rs_apply_group.sql).
    const std::vector<std::vector<const char*>> groups = {
        {"int", "int", "bigint[]"},  // cutover lock class and count, table oids
        {"text[]", "text[]", "text[]", "bigint[]", "int[]", "text[]", "bigint[]", "bigint[]",
         "bigint[]", "bigint[]", "bigint[]", "bigint[]", "bigint[]"},  // orders rows
        {"text[]", "text[]", "bigint[]", "bigint[]", "bigint[]", "text[]",
         "text[]"},  // their lines upserted, then deleted
        {"text[]", "text[]", "text[]", "bigint[]", "bigint[]", "bigint[]",
         "bigint[]"},  // customer_orders rows
        {"text[]", "text[]", "bigint[]", "bigint[]", "bigint[]", "text[]",
         "text[]"},                                               // their lines
        {"int[]", "text[]", "bigint[]", "bigint[]", "bigint[]"},  // checkpoints
    };
    std::string call = "SELECT rs_apply_group(";
    int n = 0;
    for (const auto& group : groups) {
      for (const char* type : group) {
        call += (n > 0 ? ", $" : "$") + std::to_string(n + 1) + "::" + type;
        ++n;
      }
    }
    conn.prepare("rs_apply_group", call + ")");
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

namespace {

OrderView view_from_batch_row(int k, const pqxx::row& row) {
  OrderView v;
  v.state.order_id = row[1].as<std::string>();
  v.state.customer_id = row[2].as<std::string>();
  auto status = parse_status(row[3].as<std::string>());
  if (!status) throw std::runtime_error("read model row " + v.state.order_id + " has a bad status");
  v.state.status = *status;
  if (k == 0) {
    v.state.tracking_number = row[4].as<std::string>();
    v.created_at_us = opt_int(row[5]);
    v.confirmed_at_us = opt_int(row[6]);
    v.shipped_at_us = opt_int(row[7]);
    v.delivered_at_us = opt_int(row[8]);
  }
  v.state.version = row[9].as<std::int64_t>();
  v.last_global_position = row[10].as<std::int64_t>();
  return v;
}

// The lines of the loaded views, in line order (rows sorted by projection, order, line).
void attach_lines(pqxx::transaction_base& tx, LoadedViews& out) {
  PgArrayText orders_ids, customers_ids;
  for (const auto& [id, v] : out.by_projection[0]) orders_ids.add(id);
  for (const auto& [id, v] : out.by_projection[1]) customers_ids.add(id);
  OrderView* view = nullptr;
  std::size_t view_k = 0;
  for (const auto& row :
       tx.exec_prepared("rs_load_lines", orders_ids.finish(), customers_ids.finish())) {
    const auto k = static_cast<std::size_t>(row[0].as<int>());
    const auto id = row[1].as<std::string>();
    if (view == nullptr || view_k != k || view->state.order_id != id) {
      view = &out.by_projection.at(k).at(id);
      view_k = k;
    }
    view->state.items.push_back(domain::Item{row[2].as<std::string>(), row[3].as<std::int64_t>(),
                                             row[4].as<std::int64_t>()});
    view->lines.push_back(LineStamp{row[5].as<std::int64_t>(), 0});
  }
}

}  // namespace

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
  bool any = false;
  for (const auto& row :
       tx.exec_prepared("rs_load_batch", orders_ids.finish(), customers_ids.finish())) {
    const int k = row[0].as<int>();
    if (k < 0) {
      for (int c = 5; c <= 8; ++c) {
        out.table_oids.push_back(row[c].is_null() ? 0 : row[c].as<std::int64_t>());
      }
      continue;
    }
    auto v = view_from_batch_row(k, row);
    auto id = v.state.order_id;
    out.by_projection.at(static_cast<std::size_t>(k)).emplace(std::move(id), std::move(v));
    any = true;
  }
  // A second statement: only the partition's owner writes these rows, and a table swapped in
  // between shows at the write (the oids were read first).
  if (any) attach_lines(tx, out);
  return out;
}

namespace {

// The arrays of one projection's lines to upsert and to delete.
struct LineArrays {
  PgArrayText order_id, product_id, line, quantity, price, gone_order, gone_product;

  // The lines the view changed since its stored version, and those it removed since (unless
  // added again: then upserted with their new line key).
  void add(const ViewWrite& w) {
    const auto& v = *w.view;
    const auto& items = v.state.items;
    for (std::size_t i = 0; i < items.size() && i < v.lines.size(); ++i) {
      if (v.lines[i].changed <= w.stored_version) continue;
      order_id.add(v.state.order_id);
      product_id.add(items[i].product_id);
      line.add(v.lines[i].created);
      quantity.add(items[i].quantity);
      price.add(items[i].price);
    }
    for (const auto& r : v.removed) {
      if (r.version <= w.stored_version) continue;
      const bool back = std::any_of(items.begin(), items.end(), [&](const domain::Item& it) {
        return it.product_id == r.product_id;
      });
      if (back) continue;
      gone_order.add(v.state.order_id);
      gone_product.add(r.product_id);
    }
  }
};

}  // namespace

BatchWrite write_batch(pqxx::transaction_base& tx, const std::vector<std::int64_t>& table_oids,
                       const std::vector<std::vector<ViewWrite>>& writes_by_projection,
                       const std::vector<CheckpointRow>& checkpoints) {
  if (projections().size() != 2 || writes_by_projection.size() != 2) {
    throw std::logic_error("write_batch: rs_apply_group writes exactly two projections");
  }
  PgArrayText oids;
  for (auto o : table_oids) oids.add(o);
  PgArrayText o_id, o_customer, o_status, o_total, o_count, o_tracking, o_created, o_confirmed,
      o_shipped, o_delivered, o_version, o_last, o_stored;
  LineArrays o_lines, c_lines;
  for (const auto& r : writes_by_projection[0]) {
    const auto& v = *r.view;
    const auto& s = v.state;
    o_id.add(s.order_id);
    o_customer.add(s.customer_id);
    o_status.add(domain::to_string(s.status));
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
    o_lines.add(r);
  }
  PgArrayText c_id, c_customer, c_status, c_total, c_version, c_last, c_stored;
  for (const auto& r : writes_by_projection[1]) {
    const auto& s = r.view->state;
    c_id.add(s.order_id);
    c_customer.add(s.customer_id);
    c_status.add(domain::to_string(s.status));
    c_total.add(domain::total_cents(s));
    c_version.add(s.version);
    c_last.add(r.view->last_global_position);
    c_stored.add(r.stored_version);
    c_lines.add(r);
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
        o_id.finish(), o_customer.finish(), o_status.finish(), o_total.finish(), o_count.finish(),
        o_tracking.finish(), o_created.finish(), o_confirmed.finish(), o_shipped.finish(),
        o_delivered.finish(), o_version.finish(), o_last.finish(), o_stored.finish(),
        o_lines.order_id.finish(), o_lines.product_id.finish(), o_lines.line.finish(),
        o_lines.quantity.finish(), o_lines.price.finish(), o_lines.gone_order.finish(),
        o_lines.gone_product.finish(), c_id.finish(), c_customer.finish(), c_status.finish(),
        c_total.finish(), c_version.finish(), c_last.finish(), c_stored.finish(),
        c_lines.order_id.finish(), c_lines.product_id.finish(), c_lines.line.finish(),
        c_lines.quantity.finish(), c_lines.price.finish(), c_lines.gone_order.finish(),
        c_lines.gone_product.finish(), partitions.finish(), names.finish(), positions.finish(),
        recorded.finish(), applied.finish());
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
