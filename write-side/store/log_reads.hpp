// The operator's reads of the event store: one order's events and the dense global log, each
// event with its global position (once the relay sequenced it). Data as stored (not upcast).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "common/codec/recorded_event.hpp"

namespace orders::write_side {

// The order's events with version >= from_version, oldest first, at most limit.
std::vector<codec::RecordedEvent> read_order_events(pqxx::connection& conn,
                                                    const std::string& order_id,
                                                    std::int64_t from_version, std::int64_t limit);

// global_log from global position from_position on, in order, at most limit. The log is dense and
// written in order by the one relay leader, so a reader that resumes after the last position it
// saw never skips an event.
std::vector<codec::RecordedEvent> read_global_log(pqxx::connection& conn,
                                                  std::int64_t from_position, std::int64_t limit);

// The highest global position sequenced so far (0: none yet): where a live tail starts.
std::int64_t global_log_head(pqxx::connection& conn);

}  // namespace orders::write_side
