// Sends NOTIFY <channel> from a background thread on its own connection, outside any data
// transaction: a NOTIFY inside a transaction holds Postgres' cluster-wide notify lock through that
// transaction's commit flush and serializes every notifying commit. request() never blocks on the
// database; requests that arrive while a NOTIFY is in flight coalesce into one.
// Used by the write-side (wake the relay leader in another replica) and the read-side (tell other
// replicas that a batch was applied).
#pragma once
#include <stop_token>
#include <string>

#include "common/concurrency/worker.hpp"

namespace orders::log {
class Logger;
}

namespace orders::pg {

class NotifyBroadcaster {
 public:
  NotifyBroadcaster(std::string database_url, std::string channel, log::Logger& logger);
  ~NotifyBroadcaster() { worker_.stop(); }
  NotifyBroadcaster(const NotifyBroadcaster&) = delete;
  NotifyBroadcaster& operator=(const NotifyBroadcaster&) = delete;

  void request();

 private:
  void run(std::stop_token stop);
  std::string url_;
  std::string channel_;
  log::Logger& logger_;
  concurrency::Signal requested_;
  concurrency::Worker worker_;
};

}  // namespace orders::pg
