#include "pg/notify_broadcaster.hpp"

#include <chrono>
#include <memory>

#include <pqxx/pqxx>

#include "log/logger.hpp"

namespace orders::pg {

NotifyBroadcaster::NotifyBroadcaster(std::string database_url, std::string channel, log::Logger& logger)
    : url_(std::move(database_url)), channel_(std::move(channel)), logger_(logger), thread_([this] { run(); }) {}

NotifyBroadcaster::~NotifyBroadcaster() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void NotifyBroadcaster::request() {
  {
    std::lock_guard lock(mu_);
    pending_ = true;
  }
  cv_.notify_one();
}

void NotifyBroadcaster::run() {
  std::unique_ptr<pqxx::connection> conn;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return pending_ || stop_; });
      if (stop_) return;
      pending_ = false;
    }
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
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_; });
    }
  }
}

}  // namespace orders::pg
