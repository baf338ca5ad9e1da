// A small stack for pipeline tests (database, nats-server, write-side, read-side replicas on
// fixed ports that survive restarts) and a command load that records what was acknowledged.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/services.hpp"

namespace orders::testing::pipeline {

class PipelineStack {
 public:
  explicit PipelineStack(int read_replicas = 1);
  ~PipelineStack();

  void start_write();
  void kill_write();
  void start_read(int i);
  void kill_read(int i);
  int write_port() const { return write_port_; }
  int read_port(int i) const { return read_ports_.at(static_cast<std::size_t>(i)); }
  const std::string& db() const { return db_; }
  NatsServer& nats() { return nats_; }
  std::string replica_id(int i) const { return "replica-" + std::to_string(i); }

 private:
  std::string db_;
  NatsServer nats_;
  int write_port_;
  std::vector<int> read_ports_;
  std::unique_ptr<Process> write_;
  std::vector<std::unique_ptr<Process>> reads_;
};

// Runs the seed scenario on fresh orders from `threads` clients until stopped; every command
// that got a 2xx is recorded (order id -> highest acknowledged version).
class CommandLoad {
 public:
  CommandLoad(int write_port, int threads, std::string prefix);
  ~CommandLoad();  // stops
  void stop();
  std::int64_t acked() const { return acked_.load(); }
  std::int64_t failed() const { return failed_.load(); }
  std::map<std::string, std::int64_t> acked_versions() const;

 private:
  void run(int thread_index);
  int port_;
  std::string prefix_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> acked_{0};
  std::atomic<std::int64_t> failed_{0};
  mutable std::mutex mu_;
  std::map<std::string, std::int64_t> versions_;
  std::vector<std::thread> threads_;
};

// Sends one command of the seed scenario (status 0 = no answer).
HttpResult seed_step(HttpClient& c, const std::string& order_id, const std::string& customer_id,
                     int step);

}  // namespace orders::testing::pipeline
