#include "read-side/rebuild/shadow.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <sstream>
#include <tuple>

#include <pqxx/stream_to>

namespace orders::read_side::rebuild {

void prepare_shadow_statements(pqxx::connection& conn) {
  conn.prepare("rb_create_shadow", "SELECT rebuild_create_shadow($1, $2)");
  conn.prepare("rb_drop_shadow", "SELECT rebuild_drop_shadow($1)");
  conn.prepare("rb_live_indexes", "SELECT rebuild_live_indexes($1)");
  conn.prepare("rb_index_shadow", "SELECT rebuild_index_shadow($1, $2)");
  conn.prepare("rb_log_shadow", "SELECT rebuild_log_shadow($1)");
  conn.prepare("rb_analyze_shadow", "SELECT rebuild_analyze_shadow($1)");
  conn.prepare("rb_swap", "SELECT rebuild_swap($1)");
  const std::string keys = "ARRAY(SELECT jsonb_array_elements_text($KEYS::jsonb))";
  auto with_keys = [&](std::string sql, const char* n) {
    return sql.replace(sql.find("$KEYS"), 5, n);
  };
  conn.prepare("rb_digest", with_keys("SELECT row_count, digest FROM rebuild_table_digest($1, "
                                      "'order_id', $2, $3, " +
                                          keys + ")",
                                      "$4"));
  conn.prepare("rb_lines_diff",
               with_keys("SELECT orders, examples::text FROM rebuild_lines_diff($1, $2, $3, $4, " +
                             keys + ")",
                         "$5"));
  conn.prepare("rb_diff", with_keys("SELECT only_live, only_shadow, changed, behind, "
                                    "examples::text FROM rebuild_table_diff($1, 'order_id', $2, "
                                    "$3, $4, " +
                                        keys + ")",
                                    "$5"));
  conn.prepare("rb_set_state",
               "UPDATE projections SET state = $2, updated_at = now() WHERE name = $1");
  conn.prepare("rb_drop_checkpoints", "DELETE FROM projection_checkpoints WHERE projection = $1");
  conn.prepare("rb_insert_checkpoints",
               "INSERT INTO projection_checkpoints (projection, partition, last_global_position, "
               "last_recorded_at, events_applied, updated_at) "
               "SELECT $1, r.partition, r.last_global_position, "
               "timestamptz 'epoch' + r.last_recorded_at_us * interval '1 microsecond', "
               "r.events_applied, now() FROM jsonb_to_recordset($2::jsonb) AS r(partition int, "
               "last_global_position bigint, last_recorded_at_us bigint, events_applied bigint)");
  for (const auto& p : projections()) {
    conn.prepare("rb_upsert_" + p.name, upsert_views_sql(p.kind, shadow_table(p)));
    std::string tables;
    for (const auto& t : {p.table, lines_table(p.table)}) {
      tables += (tables.empty() ? "" : ", ") + t + ", " + t + "_shadow";
    }
    conn.prepare("rb_hold_vacuum_" + p.name,
                 "LOCK TABLE " + tables + " IN SHARE UPDATE EXCLUSIVE MODE");
  }
}

std::string shadow_table(const ProjectionDef& p) {
  return p.table + "_shadow";
}

namespace {

std::vector<std::string> tables_of(const ProjectionDef& p) {
  return {p.table, lines_table(p.table)};
}

const std::vector<std::string> kLineColumns = {"order_id", "product_id", "line", "quantity",
                                               "price_cents"};

int index_table_shadow(pqxx::connection& conn, const std::string& table) {
  std::vector<std::string> names;
  {
    pqxx::work tx(conn);
    tx.exec_prepared("rb_log_shadow", table);
    tx.commit();
  }
  {
    pqxx::read_transaction tx(conn);
    for (const auto& row : tx.exec_prepared("rb_live_indexes", table)) {
      names.push_back(row[0].as<std::string>());
    }
  }
  for (const auto& name : names) {
    pqxx::work tx(conn);
    tx.exec_prepared("rb_index_shadow", table, name);
    tx.commit();
  }
  pqxx::work tx(conn);
  tx.exec_prepared("rb_analyze_shadow", table);
  tx.commit();
  return static_cast<int>(names.size());
}

}  // namespace

void create_shadow(pqxx::transaction_base& tx, const ProjectionDef& p, bool unlogged) {
  for (const auto& t : tables_of(p)) tx.exec_prepared("rb_create_shadow", t, unlogged);
}

void drop_shadow(pqxx::transaction_base& tx, const ProjectionDef& p) {
  for (const auto& t : tables_of(p)) tx.exec_prepared("rb_drop_shadow", t);
}

int index_shadow(pqxx::connection& conn, const ProjectionDef& p) {
  int built = 0;
  for (const auto& t : tables_of(p)) built += index_table_shadow(conn, t);
  return built;
}

void hold_off_vacuum(pqxx::transaction_base& tx, const ProjectionDef& p) {
  tx.exec_prepared("rb_hold_vacuum_" + p.name);
}

void swap_in_shadow(pqxx::transaction_base& tx, const ProjectionDef& p) {
  for (const auto& t : tables_of(p)) tx.exec_prepared("rb_swap", t);
}

std::vector<std::string> copy_columns(ProjectionKind kind) {
  if (kind == ProjectionKind::Orders) {
    return {"order_id",   "customer_id",     "status",     "total_cents",
            "item_count", "tracking_number", "created_at", "confirmed_at",
            "shipped_at", "delivered_at",    "version",    "last_global_position"};
  }
  return {"order_id", "customer_id", "status", "total_cents", "version", "last_global_position"};
}

std::string copy_timestamp(std::int64_t unix_us) {
  std::int64_t secs = unix_us / 1'000'000;
  std::int64_t frac = unix_us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06lld+00", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac));
  return buf;
}

namespace {

// Nullable text field for pqxx::stream_to: a null const char* is written as \N.
struct OptText {
  std::string value;
  bool present = false;
  const char* get() const { return present ? value.c_str() : nullptr; }
};

OptText opt_ts(const std::optional<std::int64_t>& us) {
  if (!us) return {};
  return {copy_timestamp(*us), true};
}

void write_row(pqxx::stream_to& s, ProjectionKind kind, const OrderView& v) {
  const auto& st = v.state;
  const std::string status(domain::to_string(st.status));
  const std::int64_t total = domain::total_cents(st);
  if (kind == ProjectionKind::Orders) {
    const OptText tracking{st.tracking_number, !st.tracking_number.empty()};
    const auto created = opt_ts(v.created_at_us);
    const auto confirmed = opt_ts(v.confirmed_at_us);
    const auto shipped = opt_ts(v.shipped_at_us);
    const auto delivered = opt_ts(v.delivered_at_us);
    s << std::make_tuple(st.order_id, st.customer_id, status, total,
                         static_cast<std::int64_t>(st.items.size()), tracking.get(), created.get(),
                         confirmed.get(), shipped.get(), delivered.get(), st.version,
                         v.last_global_position);
  } else {
    s << std::make_tuple(st.order_id, st.customer_id, status, total, st.version,
                         v.last_global_position);
  }
}

void write_lines(pqxx::stream_to& s, const OrderView& v) {
  const auto& items = v.state.items;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::int64_t line = i < v.lines.size() ? v.lines[i].created : 0;
    s << std::make_tuple(v.state.order_id, items[i].product_id, line, items[i].quantity,
                         items[i].price);
  }
}

}  // namespace

std::int64_t copy_views(pqxx::connection& conn, const ProjectionDef& p,
                        const std::vector<const OrderView*>& views, std::size_t chunk_rows) {
  const auto columns = copy_columns(p.kind);
  const auto table = shadow_table(p);
  std::int64_t written = 0;
  for (std::size_t begin = 0; begin < views.size(); begin += chunk_rows) {
    const std::size_t end = std::min(views.size(), begin + chunk_rows);
    pqxx::work tx(conn);
    {
      pqxx::stream_to s(tx, table, columns);
      for (std::size_t i = begin; i < end; ++i) write_row(s, p.kind, *views[i]);
      s.complete();
    }
    pqxx::stream_to lines(tx, lines_table(table), kLineColumns);
    for (std::size_t i = begin; i < end; ++i) write_lines(lines, *views[i]);
    lines.complete();
    tx.commit();
    written += static_cast<std::int64_t>(end - begin);
  }
  return written;
}

void upsert_shadow(pqxx::transaction_base& tx, const ProjectionDef& p,
                   const std::vector<const OrderView*>& views, std::size_t chunk_rows) {
  for (std::size_t begin = 0; begin < views.size(); begin += chunk_rows) {
    const std::size_t end = std::min(views.size(), begin + chunk_rows);
    auto records = nlohmann::json::array();
    for (std::size_t i = begin; i < end; ++i) records.push_back(record_for(p.kind, *views[i]));
    tx.exec_prepared("rb_upsert_" + p.name, records.dump());
  }
}

namespace {

const char* scope_name(CompareScope scope) {
  switch (scope) {
    case CompareScope::Settled:
      return "settled";
    case CompareScope::Keys:
      return "keys";
    case CompareScope::All:
      break;
  }
  return "all";
}

std::string short_json(const nlohmann::json& j) {
  auto s = j.dump();
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

}  // namespace

ComparisonPart compare_with_live(pqxx::transaction_base& tx, const ProjectionDef& p, int examples,
                                 CompareScope scope, std::int64_t after, const std::string& keys) {
  const std::string sc = scope_name(scope);
  auto digest_of = [&](const std::string& table) {
    auto row = tx.exec_prepared1("rb_digest", table, sc, after, keys);
    return TableDigest{row[0].as<std::int64_t>(), row[1].as<std::string>()};
  };
  ComparisonPart c;
  c.live = digest_of(p.table);
  c.shadow = digest_of(shadow_table(p));
  const auto lines = lines_table(p.table);
  c.live_lines = digest_of(lines);
  c.shadow_lines = digest_of(lines + "_shadow");
  c.diff.examples = nlohmann::json::array();
  c.lines_diff.examples = nlohmann::json::array();
  if (c.live_lines != c.shadow_lines) {
    auto l = tx.exec_prepared1("rb_lines_diff", lines, examples, sc, after, keys);
    c.lines_diff.orders = l[0].as<std::int64_t>();
    c.lines_diff.examples = nlohmann::json::parse(l[1].as<std::string>());
  }
  if (c.live == c.shadow) return c;
  auto row = tx.exec_prepared1("rb_diff", p.table, examples, sc, after, keys);
  c.diff.only_live = row[0].as<std::int64_t>();
  c.diff.only_shadow = row[1].as<std::int64_t>();
  c.diff.changed = row[2].as<std::int64_t>();
  c.diff.behind = row[3].as<std::int64_t>();
  c.diff.examples = nlohmann::json::parse(row[4].as<std::string>());
  return c;
}

namespace {

void describe_rows_diff(std::ostringstream& out, const TableDiff& d) {
  out << "\n  " << d.only_shadow << " rows missing from the live table, " << d.only_live
      << " rows only in the live table, " << d.changed << " rows differ";
  if (d.behind > 0) {
    out << " (" << d.behind
        << " of them at a lower version in the live table: events the live projector had not "
           "applied yet)";
  }
  for (const auto& ex : d.examples) {
    const auto key = ex.value("key", std::string("?"));
    const auto& live = ex.at("live");
    const auto& shadow = ex.at("shadow");
    out << "\n  order " << key << ": ";
    if (live.is_null()) {
      out << "missing from the live table";
    } else if (shadow.is_null()) {
      out << "in the live table only (no such order in the event store)";
    } else {
      bool first = true;
      for (auto it = shadow.begin(); it != shadow.end(); ++it) {
        const auto lv = live.contains(it.key()) ? live.at(it.key()) : nlohmann::json();
        if (lv == it.value()) continue;
        out << (first ? "" : "; ") << it.key() << " live " << short_json(lv) << " rebuilt "
            << short_json(it.value());
        first = false;
      }
    }
  }
}

void describe_lines_diff(std::ostringstream& out, const LinesDiff& d) {
  out << "\n  the lines of " << d.orders << " orders differ";
  for (const auto& ex : d.examples) {
    out << "\n  order " << ex.value("key", std::string("?")) << " lines: live "
        << short_json(ex.at("live")) << " rebuilt " << short_json(ex.at("shadow"));
  }
}

}  // namespace

namespace {

void describe_part(std::ostringstream& out, const ComparisonPart& c) {
  out << "live " << c.live.rows << " rows checksum " << c.live.checksum << ", rebuilt "
      << c.shadow.rows << " rows checksum " << c.shadow.checksum << "; lines: live "
      << c.live_lines.rows << " rows checksum " << c.live_lines.checksum << ", rebuilt "
      << c.shadow_lines.rows << " rows checksum " << c.shadow_lines.checksum;
  if (c.identical()) {
    out << ": identical";
    return;
  }
  out << ": DIFFERENT";
  if (c.live != c.shadow) describe_rows_diff(out, c.diff);
  if (c.live_lines != c.shadow_lines) describe_lines_diff(out, c.lines_diff);
}

}  // namespace

std::string describe(const ProjectionDef& p, const Comparison& c) {
  std::ostringstream out;
  out << "compare " << p.name << " (" << p.table << "), orders settled at global position "
      << c.settled_through << " (before the cutover lock): ";
  describe_part(out, c);
  out << "\ncompare " << p.name << " (" << p.table
      << "), orders with later events (under the cutover lock): ";
  const auto& d = c.delta;
  if (d.live.rows + d.shadow.rows + d.live_lines.rows + d.shadow_lines.rows == 0) {
    out << "none";
  } else {
    describe_part(out, d);
  }
  return out.str();
}

void set_projection_state(pqxx::transaction_base& tx, const std::string& name,
                          const std::string& state) {
  tx.exec_prepared("rb_set_state", name, state);
}

void replace_checkpoints(pqxx::transaction_base& tx, const std::string& projection,
                         const nlohmann::json& partitions) {
  tx.exec_prepared("rb_drop_checkpoints", projection);
  tx.exec_prepared("rb_insert_checkpoints", projection, partitions.dump());
}

}  // namespace orders::read_side::rebuild
