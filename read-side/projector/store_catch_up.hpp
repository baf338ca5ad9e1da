// A partition's events that its stream no longer holds (retention, NATS_STREAM_MAX_AGE_S /
// NATS_STREAM_MAX_BYTES, or a purge), replayed from the event store and applied through the
// replica's applier exactly like a bus batch (same checkpoints, duplicates skipped), so that the
// partition's consumer goes on where the stream now begins: no gap, nothing applied twice.
//   - before binding (begin): from the lowest live projection checkpoint of the partition up to
//     the stream's first sequence - 1;
//   - at runtime, for a stream with retention limits: before each batch (before_batch) and every
//     5 s while the partition is idle (idle), when the stream's first sequence has passed the
//     partition's last event. With a max age only, not while the partition's last event is
//     younger than half of it (nothing after it can have expired yet); with max bytes, one
//     stream info request per batch.
// The store's global positions are the stream's sequences (dense), which makes the handoff exact.
// Reads with the rebuild's global-order reader (rebuild::read_page: global_log JOIN all_events,
// so archived events too), keeping the partition's events of each page.
#pragma once
#include <chrono>
#include <cstdint>
#include <stop_token>
#include <string>
#include <vector>

#include "common/codec/recorded_event.hpp"
#include "common/nats/stream_admin.hpp"
#include "read-side/projector/context.hpp"

namespace orders::read_side {

class GroupApplier;

// The lowest checkpoint of the live projections for the partition (0: one has applied nothing):
// everything of the partition up to there is applied. Opens a connection for it.
std::int64_t partition_checkpoint(const std::string& database_url, int partition);

class StoreCatchUp {
 public:
  StoreCatchUp(int partition, std::uint64_t lease, ProjectorContext& ctx, GroupApplier& applier);

  // Reads the partition's checkpoint and the stream's state, replays the expired part. False:
  // the partition was lost (or stop requested). Throws NatsError / pqxx errors (retry later).
  bool begin(nats::StreamAdmin& admin, std::stop_token stop);
  // Before applying a bus batch (stream order): replays what expired after the last applied
  // event. False: lost / stopped. Throws like begin (nak, retry).
  bool before_batch(nats::StreamAdmin& admin, const std::vector<codec::RecordedEvent>& batch,
                    std::stop_token stop);
  // After a fetch that brought nothing. False: lost / stopped. Throws like begin.
  bool idle(nats::StreamAdmin& admin, std::stop_token stop);
  // After a batch was applied.
  void applied(const std::vector<codec::RecordedEvent>& batch);

  std::int64_t replayed() const { return replayed_; }  // events applied from the store so far

 private:
  bool replay(std::int64_t after, std::int64_t upto, std::stop_token stop);
  bool may_have_expired() const;  // false: nothing after the last event can have expired yet
  void note(const codec::RecordedEvent& e);

  int partition_;
  std::uint64_t lease_;
  ProjectorContext& ctx_;
  GroupApplier& applier_;
  std::int64_t last_ = 0;              // the highest global position of the partition known applied
  std::int64_t last_recorded_us_ = 0;  // that event's recorded_at (0: unknown)
  std::chrono::milliseconds max_age_{0};  // the stream's limits (0 / false: none)
  bool max_bytes_ = false;
  std::chrono::steady_clock::time_point next_idle_check_{};
  std::int64_t replayed_ = 0;
};

}  // namespace orders::read_side
