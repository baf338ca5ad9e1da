// Test and benchmark data for rebuild-projection: events written straight into the event store
// with set-based SQL (events + global_log, as if the relay had sequenced them), and a reference
// fold of the whole store to compare read-model tables with.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace orders::rebuild_test {

// A new database on shared_pg() with every migration applied; returns its URL.
std::string migrated_database(const std::string& hint);

struct LoadSpec {
  std::int64_t orders = 1000;
  std::string prefix = "bulk";  // order ids "<prefix>-<n>", customers "<prefix>-c<n % 997>"
  // Every order gets 10 events: OrderCreated, 6 OrderItemAdded (one in ten orders has its first
  // add as a schema_version 1 event with a float "price" in dollars), OrderItemRemoved,
  // OrderConfirmed, OrderShipped. In global order, blocks of 1,000 orders interleave (by
  // version, then order) and follow each other.
};

// Appends the events (fresh positions) and sequences them into global_log after the current
// head, advancing relay_state as the relay would. Returns the number of events written.
std::int64_t load_events(pqxx::connection& conn, const LoadSpec& spec);

// Orders with many long lines (large views, for memory tests): OrderCreated, then `items`
// OrderItemAdded whose product ids are `id_bytes` long, per order ("<prefix>-<n>"). Sequenced
// like load_events. Returns the number of events written.
std::int64_t load_wide_orders(pqxx::connection& conn, std::int64_t orders, int items, int id_bytes,
                              const std::string& prefix = "wide");

// The read model a fresh fold of the whole event store gives (read_side::fold_all over every
// sequenced event, global order): order_id -> row JSON in the column encoding of the table
// ("orders" or "customer_orders"), as read by read_table().
std::map<std::string, nlohmann::json> expected_rows(pqxx::connection& conn,
                                                    const std::string& table);
// The table's rows in that same encoding.
std::map<std::string, nlohmann::json> read_table(pqxx::connection& conn, const std::string& table);
// "" when equal, else a description of the first few differences.
std::string diff_rows(const std::map<std::string, nlohmann::json>& expected,
                      const std::map<std::string, nlohmann::json>& actual);

}  // namespace orders::rebuild_test
