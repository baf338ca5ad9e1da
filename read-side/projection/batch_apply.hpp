// Applies one batch of bus events (one partition, stream order) to every live projection in ONE
// Postgres transaction: load the touched orders' stored views, fold the events in memory
// (duplicates skipped, gaps filled from the event store first), write back with one statement
// per projection (UPDATE guarded by the loaded version + INSERT of new rows; a row that moved
// since it was loaded fails the batch), advance every projection's checkpoint in one statement,
// commit. (Waking waiters is the
// caller's business: no NOTIFY in this transaction, see pg::NotifyBroadcaster.)
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "codec/recorded_event.hpp"

namespace orders::read_side {

struct ApplyError : std::runtime_error {  // a poison event: does not decode, or missing history
  using std::runtime_error::runtime_error;
};

struct StaleReadModel : std::runtime_error {  // a stored row changed under the batch: retry it
  using std::runtime_error::runtime_error;
};

struct ProjectionApplyStats {
  std::int64_t applied = 0;     // events applied (including gap fills)
  std::int64_t duplicates = 0;  // skipped: already applied
  std::int64_t gap_filled = 0;  // events read from the event store to close a gap
};

struct BatchStats {
  std::map<std::string, ProjectionApplyStats> by_projection;
  std::int64_t last_global_position = 0;
};

// Every event must carry global_position (the stream sequence). Throws ApplyError or pqxx errors;
// nothing is committed then. The connection must have prepare_projector_statements() applied.
BatchStats apply_batch(pqxx::connection& conn, int partition,
                       const std::vector<codec::RecordedEvent>& events);

}  // namespace orders::read_side
