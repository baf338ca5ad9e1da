// The outbox relay: moves committed events from the Postgres outbox to NATS JetStream, in a dense,
// gap-free global order (guarantees 2 and 4). Runs inside every write-side replica; exactly one
// is active (the leader) at a time.
//
// Library target `outbox_relay` (write-side/relay/CMakeLists.txt). Needs global_log and
// relay_step() (sql/).
//
// How it works (one background thread):
// * Leadership: a dedicated Postgres connection holds pg_try_advisory_lock(kRelayLockKey);
//   non-leaders retry every leader_retry. Losing that connection is losing leadership: the relay
//   stops at once (checked before every step) and starts over as a candidate.
// * One loop iteration = ONE statement, relay_step() (sql/V015), in autocommit: it numbers every
//   committed outbox row, in position order, into global_log (global_position =
//   last_sequenced + 1, 2, ...), writes the last_published hint, and returns the next events to
//   publish after what is already in flight. It commits (synchronously) before the rows reach us,
//   so nothing is published under a position that could be lost. No xmin horizon: a committed
//   successor implies a committed (hence visible or already numbered) predecessor, see V015.
//   Its plans do not depend on table statistics.
// * Publishing: asynchronously to subject codec::subject_for(prefix, order) with Nats-Msg-Id =
//   event_id and Nats-Expected-Last-Sequence = global_position - 1, so the stream sequence equals
//   global_position and nothing can land twice or out of order. The message body is written
//   straight from the row (data/metadata are jsonb text: copied, not parsed). The acks of the
//   batches in flight are checked after a later relay_step once they are all in (they arrive
//   while the database works; a slow ack never delays the next events), when too many are in
//   flight, or before idling; the cursor only advances over an acknowledged prefix, and any
//   failed ack means a resync.
// * Resync: at (re)start and after any publish error the cursor is the stream's last sequence
//   (rows <= it were published before a crash). A stream ahead of global_log, or whose last
//   message is not the event global_log has at that position, belongs to another database: the
//   relay logs an error and publishes nothing until it is fixed.
// * Wake-up: wake() (the local write-side after each commit) and LISTEN outbox (other replicas'
//   write-sides NOTIFY); otherwise a fallback poll (poll_interval). (relay_step's `waiting` is 0
//   since V015; while it is > 0, e.g. against an older schema, it looks again after 1, 2, 4 ms.)
// * Failures of NATS or Postgres: retried with capped exponential backoff; order is never
//   changed (ExpectLastSeq). NATS being down does not stop sequencing.
// * Metrics for where the time goes: relay_step_seconds{step}, relay_event_age_seconds{stage}
//   (now - recorded_at when read and when acked), relay_wakeups_total{by},
//   relay_steps_total{result} (sequenced / read_only / empty), relay_thread_cpu_seconds_total,
//   relay_steps_waiting_total.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"

namespace orders::relay {

// pg advisory lock key of the relay leader lease ("relay" in ASCII).
inline constexpr std::int64_t kRelayLockKey = 0x72656c6179;

struct RelayOptions {
  std::string database_url = "postgresql://postgres@127.0.0.1:5432/orders";
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string stream = "ORDERS";
  int sequence_batch = 10000;  // outbox rows numbered per transaction
  int publish_batch = 5000;    // messages in flight per publish batch
  std::chrono::milliseconds duplicate_window{std::chrono::minutes(2)};
  std::chrono::milliseconds poll_interval{200};  // fallback wake-up (a missed notification)
  std::chrono::milliseconds leader_retry{1000};  // candidates retry the lock this often
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds ack_timeout{5000};  // wait for a batch's publish acks
  std::chrono::milliseconds statement_timeout{30000};
  std::string name = "outbox-relay";  // NATS connection name
};

struct RelayStats {
  std::uint64_t published = 0;  // messages acknowledged by JetStream (this process)
  std::uint64_t sequenced = 0;  // outbox rows numbered (this process)
  std::uint64_t publish_errors = 0;
  std::uint64_t resyncs = 0;
  std::uint64_t leader_terms = 0;       // times this process became leader
  std::uint64_t stream_mismatches = 0;  // resyncs refused: the stream belongs to another database
};

class OutboxRelay {
 public:
  OutboxRelay(RelayOptions options, log::Logger& logger, metrics::Registry& registry);
  ~OutboxRelay();  // stop()
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void start();  // starts the background thread (no-op when running)
  void stop();   // finishes the current batch, releases leadership, joins the thread
  bool is_leader() const { return leader_.load(); }
  bool nats_connected() const { return nats_connected_.load(); }
  void wake();  // in-process signal: new outbox rows were committed
  RelayStats stats() const;

 private:
  struct Session;  // one leadership term: connections, cursor
  void run();
  void lead(Session& s);
  bool acquire_leadership(Session& s);
  void sleep_for(std::chrono::milliseconds d);  // interruptible by stop()

  RelayOptions opt_;
  log::Logger& log_;
  metrics::Registry& reg_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> leader_{false};
  std::atomic<bool> nats_connected_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  int wake_fd_ = -1;  // eventfd: wake() and stop() interrupt the wait for notifications

  std::atomic<std::uint64_t> published_{0}, sequenced_{0}, publish_errors_{0}, resyncs_{0},
      terms_{0}, mismatches_{0};
  metrics::Counter* m_published_;
  metrics::Counter* m_errors_;
  metrics::Gauge* m_backlog_;
  metrics::Gauge* m_leader_;
  metrics::Gauge* m_nats_;
  // Where the end-to-end lag goes (seconds): each loop step's duration, and each event's age
  // (now - recorded_at) when read for publishing (just sequenced) and when JetStream acked it.
  metrics::Histogram* m_step_sequence_;
  metrics::Histogram* m_step_publish_;
  metrics::Histogram* m_step_acks_;
  metrics::Histogram* m_age_read_;
  metrics::Histogram* m_age_acked_;
  metrics::Counter* m_wake_signal_;
  metrics::Counter* m_wake_notify_;
  metrics::Counter* m_wake_timeout_;
  metrics::Counter* m_wake_busy_;
  metrics::Counter* m_steps_sequenced_;
  metrics::Counter* m_steps_read_;
  metrics::Counter* m_steps_empty_;
  metrics::Counter* m_cpu_;
};

}  // namespace orders::relay
