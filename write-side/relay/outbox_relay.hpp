// The outbox relay: moves committed events from the Postgres outbox to NATS JetStream in a dense,
// gap-free global order (guarantees 2 and 4). Runs in every write-side replica; one at a time is
// the leader (a Postgres advisory lock), on one background Worker thread. Each loop iteration is
// one relay_step() statement (sql/functions/relay_step.sql: sequencing + the next events to
// publish), then the acks of the batches in flight, then publishing the new events with Nats-Msg-Id
// = event_id and Nats-Expected-Last-Sequence = global_position - 1, so stream sequence ==
// global_position. The phases live in: lease.hpp (leadership), relay_step.cpp (the loop and the
// sequencing step), relay_publishing.cpp (NATS, resync, publishing with acks, back-off),
// relay_metrics.hpp.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "common/concurrency/worker.hpp"
#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "common/pg/advisory_locks.hpp"
#include "write-side/relay/relay_metrics.hpp"

namespace orders::relay {

// pg advisory lock key of the relay leader lease.
using pg::kRelayLockKey;

struct RelayOptions {
  std::string database_url = "postgresql://postgres@127.0.0.1:5432/orders";
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string stream = "ORDERS";
  int stream_replicas = 1;  // JetStream replicas of the stream (3 on a 3-server cluster)
  std::chrono::milliseconds stream_max_age{0};  // the stream's retention (0: unlimited)
  std::int64_t stream_max_bytes = -1;           // likewise (-1: unlimited)
  int sequence_batch = 10000;                   // outbox rows numbered per transaction
  int publish_batch = 5000;                     // messages in flight per publish batch
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
  struct Session;  // one leadership term: connections, cursor, in-flight batch
  void run(std::stop_token stop);
  bool acquire_leadership(Session& s, std::stop_token stop);
  void end_term(bool was_leader);
  // The loop of one term and its sequencing step (relay_step.cpp).
  void lead(Session& s, std::stop_token stop);
  std::uint64_t sequence_step(Session& s, std::uint64_t from, bool may_publish, pqxx::result& step);
  void report_backlog(Session& s);
  std::chrono::milliseconds idle_timeout(const Session& s) const;
  bool wake_pending(const Session& s) const;
  void wait_for_wakeup(const Session& s, std::chrono::milliseconds timeout);
  void drain_wake_signal();
  // NATS: connection, resync with the stream, publishing and acks (relay_publishing.cpp).
  void ensure_nats(Session& s);
  bool can_publish(Session& s);
  bool resync(Session& s);
  std::uint64_t send(Session& s, const pqxx::result& rows);
  std::uint64_t settle(Session& s);
  std::uint64_t settle_results(Session& s,
                               const std::vector<std::pair<std::uint64_t, std::string>>& batch,
                               const std::vector<std::int64_t>& recorded_us);
  void fail_publish(Session& s, std::uint64_t failures, const std::string& error);
  void set_nats_connected(bool up);

  RelayOptions opt_;
  log::Logger& log_;
  RelayMetrics m_;
  std::vector<std::string> subjects_;  // by partition: codec::partition_subject(stream, p)
  bool blocked_logged_ = false;        // the stream-mismatch error was logged (once per episode)
  std::atomic<bool> leader_{false};
  std::atomic<bool> nats_connected_{false};
  int wake_fd_ = -1;  // eventfd: wake() and stop() interrupt the wait for notifications

  std::atomic<std::uint64_t> published_{0}, sequenced_{0}, publish_errors_{0}, resyncs_{0},
      terms_{0}, mismatches_{0};
  concurrency::Worker worker_;  // last: stopped in ~OutboxRelay before the members it uses
};

}  // namespace orders::relay
