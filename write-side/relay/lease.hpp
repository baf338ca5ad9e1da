// The relay's Postgres side of a leadership term: the lease connection (holding the advisory
// lock kRelayLockKey and LISTENing on "outbox") and the work connection's prepared statements.
// A lost lease connection is lost leadership: check_lease throws LeaseLost.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include <pqxx/pqxx>

namespace orders::relay {

struct LeaseLost : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Counts NOTIFY outbox (other replicas' commits).
class OutboxListener final : public pqxx::notification_receiver {
 public:
  explicit OutboxListener(pqxx::connection_base& c) : pqxx::notification_receiver(c, "outbox") {}
  void operator()(const std::string&, int) override { ++count; }
  std::uint64_t count = 0;
};

// A connection that never reconnects by itself (a reconnected lease would not hold the lock).
std::unique_ptr<pqxx::connection> connect_pg(const std::string& url);
void prepare_lease(pqxx::connection& lease);
bool try_lock(pqxx::connection& lease, std::int64_t key);  // pg_try_advisory_lock
// Throws LeaseLost when the lease connection is closed or the server dropped it.
void check_lease(pqxx::connection& lease);

struct RelayState {
  std::uint64_t last_sequenced = 0;
  std::uint64_t last_published = 0;
};
// Prepares the relay's statements on `work`, sets its session (statement timeout, index-only
// plans) and reads relay_state.
RelayState prepare_work(pqxx::connection& work, std::chrono::milliseconds statement_timeout);

}  // namespace orders::relay
