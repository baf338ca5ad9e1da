// Wakes the outbox relay leader when it runs in another write-side replica: after a commit, poke()
// asks a background thread to send NOTIFY outbox on its own connection. Pokes that arrive while a
// NOTIFY is in flight coalesce into one, so the rate is bounded by one round trip. Kept out of the
// data transactions on purpose: a NOTIFY inside them would serialize their commits (see sql/V012).
#pragma once
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace orders::log {
class Logger;
}

namespace orders::write_side {

class OutboxNotifier {
 public:
  OutboxNotifier(std::string database_url, log::Logger& logger);
  ~OutboxNotifier();  // stops the thread
  OutboxNotifier(const OutboxNotifier&) = delete;
  OutboxNotifier& operator=(const OutboxNotifier&) = delete;

  void poke();

 private:
  void run();
  std::string url_;
  log::Logger& logger_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace orders::write_side
