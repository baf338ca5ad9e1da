#include "common/pg/notify_broadcaster.hpp"

#include <chrono>
#include <memory>

#include <pqxx/pqxx>

#include "common/log/logger.hpp"

namespace orders::pg {

NotifyBroadcaster::NotifyBroadcaster(std::string database_url, std::string channel,
                                     log::Logger& logger)
    : url_(std::move(database_url)), channel_(std::move(channel)), logger_(logger) {
  worker_.start([this](std::stop_token stop) { run(stop); });
}

void NotifyBroadcaster::request() {
  requested_.notify();
}

void NotifyBroadcaster::run(std::stop_token stop) {
  std::unique_ptr<pqxx::connection> conn;
  while (requested_.wait(stop)) {
    try {
      if (!conn) {
        conn = std::make_unique<pqxx::connection>(url_);
        conn->prepare("notify_broadcast", "SELECT pg_notify($1, '')");
      }
      pqxx::nontransaction n(*conn);
      n.exec_prepared("notify_broadcast", channel_);
    } catch (const std::exception& e) {
      // Listeners fall back to their periodic re-check meanwhile; reconnect on the next request.
      conn.reset();
      logger_.debug("notify broadcast failed", {{"channel", channel_}, {"error", e.what()}});
      if (!concurrency::sleep_for(stop, std::chrono::milliseconds(200))) return;
    }
  }
}

}  // namespace orders::pg
