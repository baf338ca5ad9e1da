// The SQL of parked events (table parked_events, sql/V043__parked_events.sql): which orders are
// parked, parking events (sql/functions/rs_park_events.sql) and reading them back. A parked order
// is held whole: its later events are parked behind the poison event, never applied out of order.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include <pqxx/pqxx>

namespace orders::read_side {

struct ParkedEvent {
  std::string order_id;
  std::int64_t global_position = 0;
  std::string event_id;
  std::string type;
  std::int64_t version = 0;
  std::string error;      // why it is parked (the apply's error, or "held behind ...")
  int attempts = 0;       // failed applies before it was parked (0: held behind another)
  bool held = false;      // parked because its order is parked (only if it still is)
  std::string parked_at;  // RFC 3339 (read back only)
};

// The orders the projector holds: it parks their events instead of applying them.
using ParkedOrders = std::unordered_set<std::string>;

// Prepares rs_park_events, rs_parked_orders, rs_parked_list on conn.
void prepare_parked_statements(pqxx::connection& conn);
// Every order with a parked event.
ParkedOrders load_parked_orders(pqxx::transaction_base& tx);
// Parks the events in one transaction (run outside a transaction). Returns the orders of held
// events that are no longer parked (unparked meanwhile): nothing of those was stored.
std::vector<std::string> park_events(pqxx::transaction_base& tx,
                                     const std::vector<ParkedEvent>& events);
// Every parked event (of one order when order_id is not empty), by order, then global position.
std::vector<ParkedEvent> list_parked(pqxx::transaction_base& tx, const std::string& order_id = "");
// Number of parked events.
std::int64_t count_parked(pqxx::transaction_base& tx);

}  // namespace orders::read_side
