// One owned partition's fetcher: a Worker thread doing the blocking long-poll fetch on the
// partition's durable JetStream pull consumer (no Postgres of its own). It hands each decoded batch
// to the replica's GroupApplier (which holds the partition's advisory lock) and waits for it:
// applied -> ack; failed -> nak and retry after a back-off; lock lost -> nak and stop (state Lost).
// Events the stream no longer holds are replayed from the event store first (store_catch_up.hpp),
// before binding and whenever a batch shows the stream's start has passed the partition.
// So the partition has at most one batch in flight and its events are applied in stream order.
#pragma once
#include <atomic>
#include <cstdint>
#include <stop_token>
#include <vector>

#include "common/codec/recorded_event.hpp"
#include "common/concurrency/worker.hpp"
#include "common/nats/message.hpp"
#include "common/nats/pull_consumer.hpp"
#include "common/nats/stream_admin.hpp"
#include "read-side/projector/context.hpp"

namespace orders::read_side {

class GroupApplier;
class StoreCatchUp;

class PartitionWorker {
 public:
  enum class State { Owned, Lost, Stopped };

  // `lease`: GroupApplier::try_acquire's answer for this partition.
  PartitionWorker(int partition, std::uint64_t lease, ProjectorContext& ctx, GroupApplier& applier);
  ~PartitionWorker();  // stop + join: the current batch finishes and is acked first
  PartitionWorker(const PartitionWorker&) = delete;
  PartitionWorker& operator=(const PartitionWorker&) = delete;

  void request_stop() { worker_.request_stop(); }
  State state() const { return state_.load(); }
  int partition() const { return partition_; }
  std::uint64_t lease() const { return lease_; }

 private:
  void run(std::stop_token stop);
  bool consume(std::stop_token stop);  // false: the partition was lost
  nats::ConsumerOptions consumer_options() const;
  bool expired_while_idle(StoreCatchUp& store, nats::StreamAdmin& admin, std::stop_token stop);
  bool expired_first(StoreCatchUp& store, nats::StreamAdmin& admin,
                     std::vector<nats::Message>& msgs,
                     const std::vector<codec::RecordedEvent>& events, nats::PullConsumer& consumer,
                     std::stop_token stop);
  std::vector<codec::RecordedEvent> decode(const std::vector<nats::Message>& msgs) const;

  int partition_;
  std::uint64_t lease_;
  ProjectorContext& ctx_;
  GroupApplier& applier_;
  std::atomic<State> state_{State::Owned};
  concurrency::Worker worker_;  // last: the thread never outlives what it uses
};

}  // namespace orders::read_side
