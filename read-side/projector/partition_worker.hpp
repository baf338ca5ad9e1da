// One owned partition's fetcher: a thread doing the blocking long-poll fetch on the partition's
// durable JetStream pull consumer (no Postgres of its own). It decodes the batch, hands it to
// the replica's GroupApplier (whose connection holds the partition's advisory lock, taken by the
// coordinator before this worker starts) and waits for it: applied -> ack; failed -> nak and
// retry after a back-off; lock lost -> nak and stop (state Lost). So the partition has at most one
// batch in flight and its events are applied in stream order.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "read-side/projector/context.hpp"

namespace orders::read_side {

class GroupApplier;

class PartitionWorker {
 public:
  enum class State { Owned, Lost, Stopped };

  // `lease`: GroupApplier::try_acquire's answer for this partition.
  PartitionWorker(int partition, std::uint64_t lease, ProjectorContext& ctx, GroupApplier& applier);
  ~PartitionWorker();  // request_stop() + join: the current batch finishes and is acked first
  PartitionWorker(const PartitionWorker&) = delete;
  PartitionWorker& operator=(const PartitionWorker&) = delete;

  void request_stop();
  State state() const { return state_.load(); }
  int partition() const { return partition_; }
  std::uint64_t lease() const { return lease_; }

 private:
  void run();
  bool consume();                           // false: the partition was lost
  void pause(std::chrono::milliseconds d);  // returns early on stop

  int partition_;
  std::uint64_t lease_;
  ProjectorContext& ctx_;
  GroupApplier& applier_;
  std::atomic<State> state_{State::Owned};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace orders::read_side
