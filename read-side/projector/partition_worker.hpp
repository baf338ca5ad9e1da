// One owned partition: a dedicated Postgres connection that holds the partition's session
// advisory lock and runs every apply transaction (so losing the connection loses both at once),
// and the partition's durable JetStream pull consumer. Fetch -> apply in one transaction -> ack.
#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <pqxx/connection>

#include "projector/context.hpp"


namespace orders::read_side {

class PartitionWorker {
 public:
  enum class State { Starting, Owned, LockBusy, Lost, Stopped };

  PartitionWorker(int partition, ProjectorContext& ctx);
  ~PartitionWorker();  // request_stop() + join: the current batch finishes and is acked first
  PartitionWorker(const PartitionWorker&) = delete;
  PartitionWorker& operator=(const PartitionWorker&) = delete;

  void request_stop();
  State state() const { return state_.load(); }
  int partition() const { return partition_; }

 private:
  void run();
  void consume(pqxx::connection& conn);
  void pause(std::chrono::milliseconds d);  // returns early on stop

  int partition_;
  ProjectorContext& ctx_;
  std::atomic<State> state_{State::Starting};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace orders::read_side
