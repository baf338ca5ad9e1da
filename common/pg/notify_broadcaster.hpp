// Sends NOTIFY <channel> from a background thread on its own connection, outside any data
// transaction: a NOTIFY inside a transaction holds Postgres' cluster-wide notify lock through that
// transaction's commit flush and serializes every notifying commit. request() never blocks on the
// database; requests that arrive while a NOTIFY is in flight coalesce into one.
// Used by the write-side (wake the relay leader in another replica) and the read-side (tell other
// replicas that a batch was applied).
#pragma once
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace orders::log {
class Logger;
}

namespace orders::pg {

class NotifyBroadcaster {
 public:
  NotifyBroadcaster(std::string database_url, std::string channel, log::Logger& logger);
  ~NotifyBroadcaster();  // stops and joins
  NotifyBroadcaster(const NotifyBroadcaster&) = delete;
  NotifyBroadcaster& operator=(const NotifyBroadcaster&) = delete;

  void request();

 private:
  void run();
  std::string url_;
  std::string channel_;
  log::Logger& logger_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace orders::pg
