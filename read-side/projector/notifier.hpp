// Wakes waiting queries (GET /orders/{id}?min_version=) when a batch commits: a generation counter
// under a condition variable, bumped by the local projector and by the LISTEN thread (batches
// committed by other replicas arrive as NOTIFY read_side_applied).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace orders::read_side {

class ApplyNotifier {
 public:
  void notify() {
    {
      std::lock_guard lock(mu_);
      ++generation_;
    }
    cv_.notify_all();
  }
  std::uint64_t generation() const {
    std::lock_guard lock(mu_);
    return generation_;
  }
  // Waits until the generation differs from `seen` or the deadline passes; true when it changed.
  bool wait_for_change(std::uint64_t seen, std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return generation_ != seen; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;
};

}  // namespace orders::read_side
