// Read-your-writes, step 3 of 3: the queries (GET /orders/{id}?min_version=) waiting in this
// replica for an order to reach a version. Each registers a Waiter; an apply wakes only the waiters
// of the orders it committed whose min_version it reached (applied()), so a waiter re-queries once,
// when its answer is there. wake_all() wakes every waiter to re-query when the committed orders are
// unknown (a notification without order list, the LISTEN connection re-established).
// Woken by the local projector after its commit and by the ApplySubscriber (other replicas).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace orders::read_side {

// An order and the version a committed transaction brought it to (at least).
struct AppliedVersion {
  std::string order_id;
  std::int64_t version = 0;
};

class VersionWaiters {
 public:
  // Why Waiter::wait() returned.
  enum class Wake {
    Reached,   // an apply committed the order at >= min_version: one query will see it
    Recheck,   // wake_all() (unknown orders): query again
    TimedOut,  // deadline passed
  };

  // Registration of one waiting query; register BEFORE the first query so that an apply
  // committed between that query and wait() is not missed.
  class Waiter {
   public:
    Waiter(VersionWaiters& n, std::string order_id, std::int64_t min_version)
        : n_(n), order_id_(std::move(order_id)), min_version_(min_version) {
      std::lock_guard lock(n_.mu_);
      all_seen_ = n_.all_generation_;
      n_.waiters_.emplace(order_id_, this);
    }
    ~Waiter() {
      std::lock_guard lock(n_.mu_);
      auto [b, e] = n_.waiters_.equal_range(order_id_);
      for (auto it = b; it != e; ++it) {
        if (it->second == this) {
          n_.waiters_.erase(it);
          break;
        }
      }
    }
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;

    // Waits for applied() of this order at >= min_version, a wake_all(), or the deadline.
    // A Reached or Recheck seen once is consumed (the next wait() waits for a new one).
    Wake wait(std::chrono::steady_clock::time_point deadline) {
      std::unique_lock lock(n_.mu_);
      const bool woken = cv_.wait_until(
          lock, deadline, [&] { return reached_ || all_seen_ != n_.all_generation_; });
      if (!woken) return Wake::TimedOut;
      if (reached_) {
        reached_ = false;
        all_seen_ = n_.all_generation_;
        return Wake::Reached;
      }
      all_seen_ = n_.all_generation_;
      return Wake::Recheck;
    }

   private:
    friend class VersionWaiters;
    VersionWaiters& n_;
    std::string order_id_;
    std::int64_t min_version_;
    std::condition_variable cv_;
    bool reached_ = false;        // guarded by n_.mu_
    std::uint64_t all_seen_ = 0;  // guarded by n_.mu_
  };

  // Wakes the waiters of these orders whose min_version is reached; returns how many it woke.
  std::size_t applied(const std::vector<AppliedVersion>& orders) {
    std::size_t woken = 0;
    std::lock_guard lock(mu_);
    if (waiters_.empty()) return 0;
    for (const auto& o : orders) {
      auto [b, e] = waiters_.equal_range(o.order_id);
      for (auto it = b; it != e; ++it) {
        Waiter& w = *it->second;
        if (!w.reached_ && o.version >= w.min_version_) {
          w.reached_ = true;
          w.cv_.notify_one();
          ++woken;
        }
      }
    }
    return woken;
  }

  // Wakes every waiter to re-query.
  void wake_all() {
    std::lock_guard lock(mu_);
    ++all_generation_;
    for (auto& [id, w] : waiters_) w->cv_.notify_one();
  }

  std::size_t waiting() const {
    std::lock_guard lock(mu_);
    return waiters_.size();
  }

 private:
  mutable std::mutex mu_;
  std::unordered_multimap<std::string, Waiter*> waiters_;
  std::uint64_t all_generation_ = 0;
};

}  // namespace orders::read_side
