#include "outbox_notifier.hpp"

#include <memory>

#include <pqxx/pqxx>

#include "log/logger.hpp"

namespace orders::write_side {

OutboxNotifier::OutboxNotifier(std::string database_url, log::Logger& logger)
    : url_(std::move(database_url)), logger_(logger), thread_([this] { run(); }) {}

OutboxNotifier::~OutboxNotifier() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void OutboxNotifier::poke() {
  {
    std::lock_guard lock(mu_);
    if (pending_) return;
    pending_ = true;
  }
  cv_.notify_one();
}

void OutboxNotifier::run() {
  std::unique_ptr<pqxx::connection> conn;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return pending_ || stopping_; });
      if (stopping_) return;
      pending_ = false;
    }
    try {
      if (!conn) conn = std::make_unique<pqxx::connection>(url_);
      pqxx::nontransaction tx(*conn);
      tx.exec0("NOTIFY outbox");
    } catch (const std::exception& e) {
      // The leader's fallback poll still picks the rows up; reconnect on the next poke.
      conn.reset();
      logger_.warn("outbox notify failed", {{"error", e.what()}});
    }
  }
}

}  // namespace orders::write_side
