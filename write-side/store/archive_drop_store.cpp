#include "write-side/store/archive_drop_store.hpp"

#include <nlohmann/json.hpp>

#include "common/codec/state_codec.hpp"
#include "write-side/store/event_store.hpp"

namespace orders::write_side {
void prepare_archive_drop_statements(pqxx::connection& conn) {
  conn.prepare("ad_year", "SELECT extract(year FROM current_date)::int");
  conn.prepare("ad_partition",
               "SELECT to_regclass('events_archive_y' || $1::int) IS NOT NULL, "
               "coalesce(pg_total_relation_size(to_regclass('events_archive_y' || $1::int)), 0), "
               "(SELECT count(*) FROM events_archive "
               "  WHERE archived_on >= make_date($1::int, 1, 1) AND archived_on < "
               "make_date($1::int + 1, 1, 1))");
  conn.prepare(
      "ad_orders",
      "SELECT count(*) FROM archived_streams WHERE dropped_at IS NULL "
      "AND archived_on >= make_date($1::int, 1, 1) AND archived_on < make_date($1::int + 1, 1, 1)");
  conn.prepare(
      "ad_page",
      "SELECT stream_id FROM archived_streams WHERE dropped_at IS NULL "
      "AND archived_on >= make_date($1::int, 1, 1) AND archived_on < make_date($1::int + 1, 1, 1) "
      "AND stream_id > $2 ORDER BY stream_id LIMIT $3");
  conn.prepare("ad_snapshots",
               "INSERT INTO snapshots AS s (stream_id, version, state_schema, state) "
               "SELECT n.stream_id, n.version, n.state_schema, n.state "
               "  FROM jsonb_to_recordset($1::jsonb) "
               "    AS n(stream_id text, version bigint, state_schema int, state jsonb) "
               "ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version, "
               "  state_schema = EXCLUDED.state_schema, state = EXCLUDED.state, taken_at = now() "
               "WHERE s.version < EXCLUDED.version OR s.state_schema <> EXCLUDED.state_schema");
  conn.prepare("ad_drop", "SELECT ws_archive_drop_year($1)");
}

int current_year(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  return tx.exec_prepared1("ad_year")[0].as<int>();
}

ArchiveYear archive_year(pqxx::connection& conn, int year) {
  pqxx::nontransaction tx(conn);
  ArchiveYear y;
  const auto p = tx.exec_prepared1("ad_partition", year);
  y.present = p[0].as<bool>();
  y.bytes = p[1].as<std::int64_t>();
  y.events = p[2].as<std::int64_t>();
  y.orders = tx.exec_prepared1("ad_orders", year)[0].as<std::int64_t>();
  return y;
}

std::vector<std::string> year_orders(pqxx::connection& conn, int year, const std::string& after,
                                     int limit) {
  pqxx::nontransaction tx(conn);
  std::vector<std::string> out;
  for (const auto& row : tx.exec_prepared("ad_page", year, after, limit))
    out.push_back(row[0].as<std::string>());
  return out;
}

void write_final_snapshots(pqxx::connection& conn, const std::vector<std::string>& orders) {
  auto loaded = load_streams(conn, orders);
  auto rows = nlohmann::json::array();
  for (const auto& [id, l] : loaded) {
    if (!l.state.exists()) continue;
    rows.push_back({{"stream_id", id},
                    {"version", l.state.version},
                    {"state_schema", codec::kStateSchemaVersion},
                    {"state", codec::state_to_snapshot_json(l.state)}});
  }
  pqxx::nontransaction tx(conn);
  tx.exec_prepared("ad_snapshots", rows.dump());
}

std::int64_t drop_year(pqxx::connection& conn, int year) {
  pqxx::nontransaction tx(conn);  // one statement: its own transaction
  return tx.exec_prepared1("ad_drop", year)[0].as<std::int64_t>();
}

}  // namespace orders::write_side
