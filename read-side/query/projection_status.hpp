// Each projection's progress for GET /projections and the lag gauges.
// lag_events = sequenced head of the global log - distinct events the projection applied (summed
// over partitions): exact whatever duplicates or gap fills happened. lag_seconds = age of the
// event at global position (head - lag_events + 1), an estimate of the oldest not yet applied.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace orders::read_side {

struct ProjectionStatus {
  std::string name;
  std::string state;  // "live" / "rebuilding"
  std::int64_t last_position = 0;
  std::int64_t lag_events = 0;
  double lag_seconds = 0.0;
};

void prepare_status_statements(pqxx::connection& conn);
std::vector<ProjectionStatus> read_projection_status(pqxx::transaction_base& tx);

}  // namespace orders::read_side
