// End-of-test checks shared by the fault and connection-loss tests: acknowledged commands against
// the event store, the outbox and relay state, the query tables against a fresh fold of the
// events, and duplicates on the bus and in the projections.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "tests/e2e/support/stack.hpp"

namespace orders::testing::e2e {

// Where the checks read: the event store's database and the bus (one URL or a comma-separated
// cluster). A Stack's own, or an HA topology's multi-host URLs.
struct StoreTarget {
  std::string db_url;
  std::string nats_url;
};
StoreTarget target_of(Stack& stack);

// One acknowledged (2xx) command: what the write-side said it stored.
struct Ack {
  std::string order_id;
  std::int64_t version = 0;
  std::int64_t position = -1;  // -1: the response had no position
};

class AckLog {
 public:
  void add(Ack a) {
    std::lock_guard lock(mu_);
    acks_.push_back(std::move(a));
  }
  std::vector<Ack> all() const {
    std::lock_guard lock(mu_);
    return acks_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Ack> acks_;
};

struct LossReport {
  std::int64_t acked = 0;
  std::int64_t lost = 0;               // (order_id, version) not in events
  std::int64_t position_mismatch = 0;  // in events, but at another position than acknowledged
  std::vector<std::string> examples;
};
LossReport check_lost(const StoreTarget& stack, const std::vector<Ack>& acks);

struct OutboxReport {
  std::int64_t events = 0;
  std::int64_t outbox_rows = 0;
  std::int64_t global_log_rows = 0;
  std::int64_t max_global_position = 0;
  std::int64_t last_sequenced = 0;
  std::int64_t last_published = 0;
  bool drained() const {
    return outbox_rows == 0 && global_log_rows == events && max_global_position == events &&
           last_sequenced == max_global_position && last_published == max_global_position;
  }
  std::string describe() const;
};
OutboxReport check_outbox(const StoreTarget& stack);

struct DivergenceReport {
  std::int64_t streams = 0;
  std::int64_t diverged_orders = 0;     // rows of "orders" unlike the fold (or missing / extra)
  std::int64_t diverged_customers = 0;  // rows of "customer_orders" unlike the fold
  std::int64_t undecodable_events = 0;
  std::vector<std::string> examples;
  std::vector<std::string> diverged_ids;  // orders whose rows differ (first 20)
  std::int64_t diverged() const { return diverged_orders + diverged_customers; }
};
DivergenceReport check_divergence(const StoreTarget& stack);

// For diverged orders: their partition, the events the query tables miss (global position and
// recorded_at), the partition's checkpoints and its JetStream durable consumer's state.
std::string diagnose_divergence(const StoreTarget& stack,
                                const std::vector<std::string>& order_ids);

struct DuplicateReport {
  std::int64_t bus_messages = 0;
  std::int64_t bus_distinct_ids = 0;
  std::int64_t bus_sequence_mismatch = 0;  // message at seq S is not the event at global_position S
  std::int64_t events = 0;
  std::int64_t applied_orders = 0;     // sum(projection_checkpoints.events_applied), "orders"
  std::int64_t applied_customers = 0;  // same, "customers"
  std::int64_t duplicates() const {
    auto extra = [this](std::int64_t applied) { return applied > events ? applied - events : 0; };
    return (bus_messages - bus_distinct_ids) + extra(applied_orders) + extra(applied_customers);
  }
  std::string describe() const;
};
DuplicateReport check_duplicates(const StoreTarget& stack);

// Waits (deadline) until the outbox is drained and both query tables hold every event.
bool wait_drained(const StoreTarget& stack, std::chrono::milliseconds deadline);

// The same checks on a Stack.
inline LossReport check_lost(Stack& s, const std::vector<Ack>& acks) {
  return check_lost(target_of(s), acks);
}
inline OutboxReport check_outbox(Stack& s) {
  return check_outbox(target_of(s));
}
inline DivergenceReport check_divergence(Stack& s) {
  return check_divergence(target_of(s));
}
inline DuplicateReport check_duplicates(Stack& s) {
  return check_duplicates(target_of(s));
}
inline bool wait_drained(Stack& s, std::chrono::milliseconds deadline) {
  return wait_drained(target_of(s), deadline);
}
inline std::string diagnose_divergence(Stack& s, const std::vector<std::string>& order_ids) {
  return diagnose_divergence(target_of(s), order_ids);
}

}  // namespace orders::testing::e2e
