// Whether another read-side replica may be serving queries, i.e. whether an apply must be announced
// at all (a lone replica's NOTIFY would only reach its own listener: a Postgres transaction, a
// wake-up of the listening backend and of this process's listener, per group, for nothing).
#pragma once
#include <atomic>
#include <chrono>

namespace orders::read_side {

// Peers are known from the coordinator's heartbeat count and, at once, from any notification of
// another replica: a starting replica announces itself (an empty payload) before its heartbeat is
// visible, and what is heard holds for `hold` whatever the heartbeat count says meanwhile. A
// notification missed in the instant before the announcement arrives costs a waiter its periodic
// re-check (one second), never an answer.
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
  // Subscriber: a notification of another replica arrived.
  void heard_from_peer() {
    heard_until_.store((std::chrono::steady_clock::now() + hold_).time_since_epoch().count());
  }

 private:
  std::chrono::steady_clock::duration hold_;
  std::atomic<int> live_{2};  // until the first heartbeat count: assume peers
  std::atomic<std::chrono::steady_clock::rep> heard_until_{0};
};

}  // namespace orders::read_side
