// Each projection's progress (state, last position, lag in events and seconds) for
// GET /projections and the lag gauges; how the lag is counted is in docs/design.md.
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
  // Events parked in parked_events (poison ones and those held behind them). Both projections
  // fold the same events, so an event parked is parked in each: the count is the same.
  std::int64_t parked = 0;
};

void prepare_status_statements(pqxx::connection& conn);
std::vector<ProjectionStatus> read_projection_status(pqxx::transaction_base& tx);

}  // namespace orders::read_side
