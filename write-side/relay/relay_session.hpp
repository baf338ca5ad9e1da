// Internal to the relay: the state of one leadership term (connections, cursor, in-flight batch).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "common/concurrency/worker.hpp"
#include "common/nats/connection.hpp"
#include "common/nats/publisher.hpp"
#include "common/nats/stream_admin.hpp"
#include "write-side/relay/lease.hpp"
#include "write-side/relay/outbox_relay.hpp"

namespace orders::relay {

using Clock = std::chrono::steady_clock;

// Members are destroyed in reverse order: the publisher and admin before their connection, the
// listener before the lease connection (closing it releases the advisory lock).
struct OutboxRelay::Session {
  std::unique_ptr<pqxx::connection> lease;
  std::unique_ptr<OutboxListener> listener;
  std::unique_ptr<pqxx::connection> work;
  std::optional<nats::Connection> nc;
  std::optional<nats::StreamAdmin> admin;
  std::optional<nats::Publisher> js;

  std::uint64_t cursor = 0;          // highest global_position known to be in the stream
  std::uint64_t last_sequenced = 0;  // as of the last relay_step call
  std::uint64_t marked = 0;          // last_published as last written by this term
  Clock::time_point next_mark{};     // the hint is written at most every kMarkEvery
  Clock::time_point next_backlog_check{};
  // Published asynchronously, acks not yet checked (global_position order, right after cursor).
  std::vector<std::pair<std::uint64_t, std::string>> in_flight;  // (global_position, event_id)
  std::vector<std::int64_t> in_flight_recorded_us;
  bool need_resync = true;
  Clock::time_point next_nats_attempt{};
  concurrency::Backoff nats_backoff;

  Session(std::chrono::milliseconds min, std::chrono::milliseconds max) : nats_backoff(min, max) {}
  ~Session() { drop_nats(); }
  std::uint64_t sent_to() const { return in_flight.empty() ? cursor : in_flight.back().first; }
  void drop_nats() {
    js.reset();
    admin.reset();
    nc.reset();
    need_resync = true;
    in_flight.clear();
    in_flight_recorded_us.clear();
  }
};

// The last_published hint (resync reads the truth from the stream) is written at most this often:
// alone it would make an otherwise read-only step a WAL flush.
inline constexpr std::chrono::milliseconds kMarkEvery{50};

}  // namespace orders::relay
