#include "write-side/store/idempotency_janitor.hpp"

#include "common/log/logger.hpp"
#include "common/pg/pool.hpp"
#include "write-side/store/event_store.hpp"

namespace orders::write_side {

IdempotencyJanitor::IdempotencyJanitor(pg::Pool& pool, std::chrono::hours retention,
                                       log::Logger& logger, std::chrono::milliseconds every)
    : pool_(pool), retention_(retention), log_(logger), every_(every) {}

void IdempotencyJanitor::start() {
  worker_.start([this](std::stop_token stop) {
    while (concurrency::sleep_for(stop, every_)) {
      try {
        run_once();
      } catch (const std::exception& e) {
        log_.warn("idempotency key clean-up failed", {{"error", e.what()}});
      }
    }
  });
}

std::int64_t IdempotencyJanitor::run_once() {
  auto lease = pool_.acquire();
  const auto n = delete_expired_keys(
      *lease, std::chrono::duration_cast<std::chrono::seconds>(retention_).count());
  if (n > 0) log_.info("expired idempotency keys deleted", {{"rows", n}});
  return n;
}

}  // namespace orders::write_side
