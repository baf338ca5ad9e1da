// Read-your-writes, step 1 of 3: after the projector commits a batch, tells the other read-side
// replicas which orders it brought to which version (NOTIFY read_side_applied, AppliedPayload),
// from its own connection and thread, outside any data transaction. Requests arriving while one is
// in flight coalesce (highest version per order); a failed send becomes a wake-all later.
#pragma once
#include <cstdint>
#include <mutex>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

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

class ApplyPublisher {
 public:
  // Announces this replica (an empty payload) first; then sends what request() asks for while
  // `peers` says another replica may listen (counted in `skipped` otherwise, when given).
  ApplyPublisher(std::string database_url, std::string token, log::Logger& logger,
                 const PeerPresence& peers, metrics::Counter* skipped = nullptr);
  ~ApplyPublisher() { worker_.stop(); }
  ApplyPublisher(const ApplyPublisher&) = delete;
  ApplyPublisher& operator=(const ApplyPublisher&) = delete;

  // Never blocks on the database.
  void request(const std::vector<AppliedVersion>& orders);

 private:
  struct Pending {
    std::unordered_map<std::string, std::int64_t> orders;
    bool all = false;
    bool hello = false;
  };
  Pending take_pending();
  void run(std::stop_token stop);

  std::string url_;
  std::string token_;
  log::Logger& logger_;
  const PeerPresence& peers_;
  metrics::Counter* skipped_;
  std::mutex mu_;
  Pending pending_{{}, false, true};  // guarded by mu_
  concurrency::Signal requested_;
  concurrency::Worker worker_;
};

}  // namespace orders::read_side
