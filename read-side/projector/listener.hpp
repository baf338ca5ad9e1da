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

}  // namespace orders::read_side
