// LISTEN read_side_applied on a dedicated connection; each notification bumps the notifier.
// Reconnects with back-off while Postgres is away.
#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "projector/notifier.hpp"

namespace orders::log {
class Logger;
}

namespace orders::read_side {

class AppliedListener {
 public:
  AppliedListener(std::string database_url, ApplyNotifier& notifier, log::Logger& logger);
  ~AppliedListener();  // stops and joins
  AppliedListener(const AppliedListener&) = delete;
  AppliedListener& operator=(const AppliedListener&) = delete;

 private:
  void run();
  std::string url_;
  ApplyNotifier& notifier_;
  log::Logger& logger_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Tells the other replicas that batches committed: NOTIFY read_side_applied from its own
// connection, outside the apply transactions and coalesced (many requests, one NOTIFY). A NOTIFY
// inside an apply transaction would hold Postgres' cluster-wide notify lock through that
// transaction's commit flush, serializing every notifying commit (the write-side's outbox
// trigger included) and defeating group commit.
class AppliedBroadcaster {
 public:
  AppliedBroadcaster(std::string database_url, log::Logger& logger);
  ~AppliedBroadcaster();  // stops and joins
  AppliedBroadcaster(const AppliedBroadcaster&) = delete;
  AppliedBroadcaster& operator=(const AppliedBroadcaster&) = delete;

  void request();  // cheap; never blocks on the database

 private:
  void run();
  std::string url_;
  log::Logger& logger_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace orders::read_side
