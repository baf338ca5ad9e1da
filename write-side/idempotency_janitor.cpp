#include "idempotency_janitor.hpp"

#include "event_store.hpp"
#include "log/logger.hpp"
#include "pg/pool.hpp"

namespace orders::write_side {

IdempotencyJanitor::IdempotencyJanitor(pg::Pool& pool, std::chrono::hours retention, log::Logger& logger,
                                       std::chrono::milliseconds every)
    : pool_(pool), retention_(retention), log_(logger), every_(every) {}

IdempotencyJanitor::~IdempotencyJanitor() { stop(); }

void IdempotencyJanitor::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (cv_.wait_for(lock, every_, [this] { return stopping_; })) break;
      lock.unlock();
      try {
        run_once();
      } catch (const std::exception& e) {
        log_.warn("idempotency key clean-up failed", {{"error", e.what()}});
      }
      lock.lock();
    }
  });
}

void IdempotencyJanitor::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::int64_t IdempotencyJanitor::run_once() {
  auto lease = pool_.acquire();
  const auto n = delete_expired_keys(*lease, std::chrono::duration_cast<std::chrono::seconds>(retention_).count());
  if (n > 0) log_.info("expired idempotency keys deleted", {{"rows", n}});
  return n;
}

}  // namespace orders::write_side
