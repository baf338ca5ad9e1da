#include "read-side/query/projection_status.hpp"

#include <algorithm>

namespace orders::read_side {

void prepare_status_statements(pqxx::connection& conn) {
  conn.prepare("rs_status",
               "SELECT p.name, p.state, coalesce(max(c.last_global_position), 0), "
               "coalesce(sum(c.events_applied), 0)::bigint FROM projections p "
               "LEFT JOIN projection_checkpoints c ON c.projection = p.name "
               "GROUP BY p.name, p.state ORDER BY p.name DESC");
  conn.prepare("rs_head", "SELECT coalesce(max(global_position), 0) FROM global_log");
  conn.prepare("rs_status_parked", "SELECT count(*) FROM parked_events");
  conn.prepare(
      "rs_event_age",
      "SELECT greatest(extract(epoch from (clock_timestamp() - e.recorded_at)), 0)::float8 "
      "FROM global_log g JOIN all_events e ON e.position = g.position "
      "WHERE g.global_position = $1");
}

std::vector<ProjectionStatus> read_projection_status(pqxx::transaction_base& tx) {
  const auto head = tx.exec_prepared1("rs_head")[0].as<std::int64_t>();
  const auto parked = tx.exec_prepared1("rs_status_parked")[0].as<std::int64_t>();
  std::vector<ProjectionStatus> out;
  for (const auto& row : tx.exec_prepared("rs_status")) {
    ProjectionStatus s;
    s.name = row[0].as<std::string>();
    s.state = row[1].as<std::string>();
    s.last_position = row[2].as<std::int64_t>();
    s.parked = parked;
    const auto applied = row[3].as<std::int64_t>();
    s.lag_events = std::max<std::int64_t>(0, head - applied);
    if (s.lag_events > 0) {
      auto age = tx.exec_prepared("rs_event_age", head - s.lag_events + 1);
      if (!age.empty()) s.lag_seconds = age[0][0].as<double>();
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace orders::read_side
