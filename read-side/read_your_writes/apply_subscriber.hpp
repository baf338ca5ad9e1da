// Read-your-writes, step 2 of 3: LISTEN read_side_applied on a dedicated connection and wake the
// VersionWaiters of the orders named in another replica's payload. Ignores this replica's own
// (same token: its projector woke them already), wakes all on a payload it cannot read and after
// (re)connecting (a notification sent while it was away is lost). Reconnects with back-off.
#pragma once
#include <stop_token>
#include <string>

#include "common/concurrency/worker.hpp"
#include "read-side/read_your_writes/peer_presence.hpp"
#include "read-side/read_your_writes/version_waiters.hpp"

namespace orders::log {
class Logger;
}
namespace orders::metrics {
class Counter;
}

namespace orders::read_side {

struct SubscriberMetrics {
  metrics::Counter* foreign = nullptr;  // notifications of other replicas with an order list
  metrics::Counter* all = nullptr;      // wake-all notifications (or reconnects)
  metrics::Counter* own = nullptr;      // this replica's own, ignored
};

class ApplySubscriber {
 public:
  // `peers` (optional) hears of every other replica's notification.
  ApplySubscriber(std::string database_url, std::string own_token, VersionWaiters& waiters,
                  log::Logger& logger, SubscriberMetrics metrics = {},
                  PeerPresence* peers = nullptr);
  ~ApplySubscriber() { worker_.stop(); }
  ApplySubscriber(const ApplySubscriber&) = delete;
  ApplySubscriber& operator=(const ApplySubscriber&) = delete;

 private:
  void listen(std::stop_token stop);  // one connection's life
  void run(std::stop_token stop);

  std::string url_;
  std::string token_;
  VersionWaiters& waiters_;
  log::Logger& logger_;
  SubscriberMetrics metrics_;
  PeerPresence* peers_;
  concurrency::Worker worker_;
};

}  // namespace orders::read_side
