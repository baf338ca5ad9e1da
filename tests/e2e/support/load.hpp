// A steady mix of commands (create / add / remove / confirm / ship / deliver on many orders) from
// several client threads. Every command carries an Idempotency-Key and is retried with the same
// key while the answer is in doubt (no response, 5xx), so each order's script moves forward
// deterministically across crashes. Every 2xx is logged as an Ack for the end-of-test checks.
#pragma once
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/support/verify.hpp"

namespace orders::testing::e2e {

struct LoadOptions {
  int port = 0;
  int threads = 4;
  std::string prefix = "load";
  std::chrono::milliseconds think{5};  // pause after each acknowledged command
  std::chrono::milliseconds request_timeout{10000};
  int max_attempts = 60;                       // per command, before the order is abandoned
  std::map<std::string, std::string> headers;  // e.g. Authorization
};

class CommandLoad {
 public:
  CommandLoad(LoadOptions options, AckLog& acks);
  ~CommandLoad();
  CommandLoad(const CommandLoad&) = delete;
  CommandLoad& operator=(const CommandLoad&) = delete;

  void start();
  // No new commands; commands in flight keep retrying (bounded by max_attempts); joins.
  void stop();

  std::int64_t sent() const { return sent_.load(); }          // HTTP requests sent
  std::int64_t commands() const { return commands_.load(); }  // distinct commands begun
  std::int64_t acked() const { return acked_.load(); }
  std::int64_t unexpected_4xx() const { return unexpected_4xx_.load(); }
  std::int64_t abandoned() const { return abandoned_.load(); }
  std::map<int, std::int64_t> statuses() const;  // HTTP status -> count (0 = no response)
  std::vector<std::string> examples() const;
  std::string describe_statuses() const;

 private:
  void worker(int index);
  bool run_command(HttpClient& client, const std::string& method, const std::string& target,
                   const std::string& body, const std::string& key, const std::string& order_id);
  void count_status(int status);
  void note(const std::string& s);

  LoadOptions options_;
  AckLog& acks_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  std::atomic<std::int64_t> sent_{0}, commands_{0}, acked_{0}, unexpected_4xx_{0}, abandoned_{0};
  mutable std::mutex mu_;
  std::map<int, std::int64_t> statuses_;
  std::vector<std::string> examples_;
};

}  // namespace orders::testing::e2e
