#include "write-side/store/log_reads.hpp"

#include "write-side/store/event_store.hpp"

namespace orders::write_side {
namespace {

constexpr const char* kColumns =
    "SELECT e.event_id::text, e.stream_id, e.version, e.position, g.global_position, e.type, "
    "       e.schema_version, e.data::text, e.metadata::text, "
    "       (extract(epoch FROM e.recorded_at) * 1000000)::bigint ";

std::vector<codec::RecordedEvent> to_events(const pqxx::result& rows) {
  std::vector<codec::RecordedEvent> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    codec::RecordedEvent e;
    e.event_id = row[0].as<std::string>();
    e.stream_id = row[1].as<std::string>();
    e.version = row[2].as<std::int64_t>();
    e.position = row[3].as<std::int64_t>();
    if (!row[4].is_null()) e.global_position = row[4].as<std::int64_t>();
    e.type = row[5].as<std::string>();
    e.schema_version = row[6].as<int>();
    e.data = nlohmann::json::parse(row[7].c_str(), nullptr, false);
    e.metadata = nlohmann::json::parse(row[8].c_str(), nullptr, false);
    if (e.data.is_discarded() || e.metadata.is_discarded()) {
      throw CorruptStream("event " + e.event_id + ": stored JSON unreadable");
    }
    e.recorded_at_us = row[9].as<std::int64_t>();
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::vector<codec::RecordedEvent> read_order_events(pqxx::connection& conn,
                                                    const std::string& order_id,
                                                    std::int64_t from_version, std::int64_t limit) {
  pqxx::read_transaction tx(conn);
  return to_events(
      tx.exec_params(std::string(kColumns) +
                         "FROM all_events e LEFT JOIN global_log g ON g.position = e.position "
                         "WHERE e.stream_id = $1 AND e.version >= $2 ORDER BY e.version LIMIT $3",
                     order_id, from_version, limit));
}

std::vector<codec::RecordedEvent> read_global_log(pqxx::connection& conn,
                                                  std::int64_t from_position, std::int64_t limit) {
  pqxx::read_transaction tx(conn);
  return to_events(tx.exec_params(
      std::string(kColumns) + "FROM global_log g JOIN all_events e ON e.position = g.position "
                              "WHERE g.global_position >= $1 "
                              "ORDER BY g.global_position LIMIT $2",
      from_position, limit));
}

std::int64_t global_log_head(pqxx::connection& conn) {
  pqxx::read_transaction tx(conn);
  return tx.exec1("SELECT coalesce(max(global_position), 0) FROM global_log")[0].as<std::int64_t>();
}

}  // namespace orders::write_side
