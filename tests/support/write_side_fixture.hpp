// Shared helpers for the write-side integration tests: a write-side process (RELAY_ENABLED=off)
// on its own database of the test's PostgreSQL (tests/support shared_pg()).
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/services.hpp"

namespace orders::testing::ws {

struct WriteSide {
  std::string db_url;
  int port = 0;
  std::unique_ptr<Process> process;

  // Starts a write-side on db_url (a new database when empty) with extra settings.
  static std::unique_ptr<WriteSide> start(std::string db_url = "",
                                          std::map<std::string, std::string> extra = {}) {
    auto ws = std::make_unique<WriteSide>();
    ws->db_url = db_url.empty() ? shared_pg().create_database("write_side") : std::move(db_url);
    ws->port = free_port();
    std::map<std::string, std::string> env = {{"DATABASE_URL", ws->db_url},
                                              {"WRITE_ADDRESS", "127.0.0.1"},
                                              {"WRITE_PORT", std::to_string(ws->port)},
                                              {"RELAY_ENABLED", "off"},
                                              {"LOG_LEVEL", "warn"},
                                              {"PG_POOL_SIZE", "8"}};
    for (auto& [k, v] : extra) env[k] = v;
    ws->process = start_service(write_side_binary(), {}, env, ws->port);
    return ws;
  }

  HttpClient client() const { return HttpClient("127.0.0.1", port); }

  std::string sql(const std::string& query) const { return shared_pg().psql(db_url, query); }
  long long count(const std::string& query) const { return std::stoll(sql(query)); }
  long long events() const { return count("SELECT count(*) FROM events"); }
  long long outbox() const { return count("SELECT count(*) FROM outbox"); }
  long long events_of(const std::string& order) const {
    return count("SELECT count(*) FROM events WHERE stream_id = '" + order + "'");
  }
};

// A fresh order id per call, unique within the test process.
inline std::string unique_id(const std::string& prefix) {
  static std::atomic<int> n{0};
  return prefix + "-" + std::to_string(++n);
}

inline std::string create_body(const std::string& order, const std::string& customer = "cust-1") {
  return nlohmann::json{{"order_id", order}, {"customer_id", customer}}.dump();
}

inline std::string item_body(const std::string& product, int quantity, const std::string& price) {
  return "{\"product_id\":\"" + product + "\",\"quantity\":" + std::to_string(quantity) +
         ",\"price\":\"" + price + "\"}";
}

}  // namespace orders::testing::ws
