// Helpers for read-side tests: compare the query tables with a fresh fold of the event store,
// and feed events straight into the event store + JetStream as the write-side and relay would.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/codec/recorded_event.hpp"
#include "common/domain/order.hpp"

namespace orders::testing::read_side {

struct ModelCheck {
  std::int64_t events = 0;          // rows in the event store
  std::int64_t orders = 0;          // orders in the fresh fold
  std::int64_t diverged = 0;        // rows of orders / customer_orders that differ, miss or abound
  std::int64_t applied_orders = 0;  // sum(events_applied) of the "orders" checkpoints
  std::int64_t applied_customers = 0;  // ... of "customers"
  std::string differences;             // the first few, readable
  bool equal() const { return diverged == 0; }
};

// Folds every event of the store (read_side::fold_all) and compares with both query tables.
ModelCheck check_read_model(const std::string& database_url);
// Waits (deadline) until both query tables equal the fold and both projections' checkpoints
// count every event of the store; returns whether they did, with the last check in `last`.
bool wait_for_read_model(const std::string& database_url, std::chrono::milliseconds deadline,
                         ModelCheck& last);
// "diverged=... events=... applied_orders=... applied_customers=...\n<differences>".
std::string describe(const ModelCheck& c);

// Appends events to the store (events + global_log, dense global positions) and publishes them
// to the JetStream stream like the relay (subject codec::subject_for, Nats-Msg-Id = event id).
class EventFeeder {
 public:
  EventFeeder(std::string database_url, std::string nats_url, std::string stream = "ORDERS");
  ~EventFeeder();

  // Appends the next version of order_id; publishes it unless publish == false.
  codec::RecordedEvent append(const std::string& order_id, const domain::Event& e,
                              bool publish = true);
  // Publishes (again). msg_id defaults to the event id (JetStream de-duplicates that).
  void publish(const codec::RecordedEvent& e, std::optional<std::string> msg_id = std::nullopt);
  // The seed scenario: create for customer, add product-1 x2 at 10.00, product-2 x1 at 15.00,
  // confirm, ship TRK123456 (first `steps` of these).
  void seed(const std::string& order_id, const std::string& customer_id, int steps = 5);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orders::testing::read_side
