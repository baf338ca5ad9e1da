// Cross-replica apply notifications on channel read_side_applied.
// AppliedBroadcaster (the projector): after a commit, sends NOTIFY with the committed order ids and
// versions (payload below), from its own connection and thread, outside any data transaction;
// requests arriving while one is in flight coalesce (highest version per order).
// AppliedListener: LISTEN on a dedicated connection; wakes only the waiters of the orders named in
// another replica's payload, ignores this replica's own (same token: the projector woke them
// already), wakes all on a payload it cannot read and after (re)connecting. Reconnects with
// back-off while Postgres is away.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "read-side/read_your_writes/apply_notifier.hpp"

namespace orders::log {
class Logger;
}
namespace orders::metrics {
class Counter;
}

namespace orders::read_side {

// Payload: "<token>\n" then one "<order_id> <version>\n" per order, or "<token>\n*\n" (wake all).
// Postgres limits a payload to 8000 bytes: longer lists are split over several notifications.
inline constexpr std::size_t kMaxAppliedPayload = 7000;
struct AppliedPayload {
  std::string token;
  bool all = false;                    // wake every waiter
  std::vector<AppliedVersion> orders;  // otherwise: these
};
std::vector<std::string> encode_applied(const std::string& token,
                                        const std::unordered_map<std::string, std::int64_t>& orders,
                                        bool all);
// nullopt: not a payload of this format (e.g. empty): the caller wakes all.
std::optional<AppliedPayload> decode_applied(std::string_view payload);

// A random token naming this process's notifications.
std::string make_replica_token();

// Whether another replica may be serving queries, i.e. whether an apply must be broadcast at all
// (a lone replica's NOTIFY would only reach its own listener: a Postgres transaction, a wake-up of
// the listening backend and of this process's listener, per group, for nothing). Peers are known
// from the coordinator's heartbeat count and, at once, from any notification of another replica:
// a starting replica announces itself (an empty payload) before its heartbeat is visible, and
// what is heard holds for `hold` whatever the heartbeat count says meanwhile. A notification
// missed in the instant before the announcement arrives costs a waiter its periodic re-check
// (one second), never an answer.
class PeerPresence {
 public:
  explicit PeerPresence(std::chrono::steady_clock::duration hold = std::chrono::seconds(30))
      : hold_(hold) {}
  bool any() const {
    return live_.load() > 1 ||
           std::chrono::steady_clock::now().time_since_epoch().count() < heard_until_.load();
  }
  // Coordinator: replicas with a fresh heartbeat, this one included.
  void live_replicas(int n) { live_.store(n); }
  // Listener: a notification of another replica arrived.
  void heard_from_peer() {
    heard_until_.store((std::chrono::steady_clock::now() + hold_).time_since_epoch().count());
  }

 private:
  std::chrono::steady_clock::duration hold_;
  std::atomic<int> live_{2};  // until the first heartbeat count: assume peers
  std::atomic<std::chrono::steady_clock::rep> heard_until_{0};
};

class AppliedBroadcaster {
 public:
  // Announces this replica (an empty payload) first; then sends what request() asks for while
  // `peers` says another replica may listen (counted in `skipped` otherwise, when given).
  AppliedBroadcaster(std::string database_url, std::string token, log::Logger& logger,
                     const PeerPresence& peers, metrics::Counter* skipped = nullptr);
  ~AppliedBroadcaster();  // stops and joins
  AppliedBroadcaster(const AppliedBroadcaster&) = delete;
  AppliedBroadcaster& operator=(const AppliedBroadcaster&) = delete;

  // Never blocks on the database.
  void request(const std::vector<AppliedVersion>& orders);

 private:
  void run();
  std::string url_;
  std::string token_;
  log::Logger& logger_;
  const PeerPresence& peers_;
  metrics::Counter* skipped_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, std::int64_t> pending_;
  bool pending_all_ = false;
  bool pending_hello_ = true;
  bool stop_ = false;
  std::thread thread_;
};

struct ListenerMetrics {
  metrics::Counter* foreign = nullptr;  // notifications of other replicas with an order list
  metrics::Counter* all = nullptr;      // wake-all notifications (or reconnects)
  metrics::Counter* own = nullptr;      // this replica's own, ignored
};

class AppliedListener {
 public:
  // `peers` (optional) hears of every other replica's notification.
  AppliedListener(std::string database_url, std::string own_token, ApplyNotifier& notifier,
                  log::Logger& logger, ListenerMetrics metrics = {}, PeerPresence* peers = nullptr);
  ~AppliedListener();  // stops and joins
  AppliedListener(const AppliedListener&) = delete;
  AppliedListener& operator=(const AppliedListener&) = delete;

 private:
  void run();
  std::string url_;
  std::string token_;
  ApplyNotifier& notifier_;
  log::Logger& logger_;
  ListenerMetrics metrics_;
  PeerPresence* peers_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace orders::read_side
