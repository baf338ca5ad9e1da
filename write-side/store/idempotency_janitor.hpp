// Deletes Idempotency-Key records older than the retention (>= 24 h) every few minutes.
#pragma once
#include <chrono>
#include <cstdint>

#include "common/concurrency/worker.hpp"

namespace orders::log {
class Logger;
}
namespace orders::pg {
class Pool;
}

namespace orders::write_side {

class IdempotencyJanitor {
 public:
  IdempotencyJanitor(pg::Pool& pool, std::chrono::hours retention, log::Logger& logger,
                     std::chrono::milliseconds every = std::chrono::minutes(10));
  ~IdempotencyJanitor() { stop(); }
  IdempotencyJanitor(const IdempotencyJanitor&) = delete;
  IdempotencyJanitor& operator=(const IdempotencyJanitor&) = delete;

  void start();
  void stop() { worker_.stop(); }
  std::int64_t run_once();  // returns rows deleted

 private:
  pg::Pool& pool_;
  std::chrono::hours retention_;
  log::Logger& log_;
  std::chrono::milliseconds every_;
  concurrency::Worker worker_;
};

}  // namespace orders::write_side
