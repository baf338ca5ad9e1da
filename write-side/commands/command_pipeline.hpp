// The command pipeline (group commit). submit() queues a command and calls back with its outcome
// once it is decided and, when it writes anything, committed. Committer threads (one per
// connection, several for pipelining) each take whatever is queued (up to max_batch commands, never
// a stream or idempotency key another committer has in flight), decide every command in arrival
// order on in-memory state (so concurrent commands on one order chain into consecutive versions),
// then write all events, outbox rows, idempotency records and due snapshots in ONE statement /
// transaction (ws_append_batch), and answer every command only after that commit.
//
// Per-command all-or-nothing: a stream another writer got to first (unique (stream_id, version)),
// or whose cached state proved stale, keeps none of its rows; its commands are re-run on fresh
// state in a later batch (an If-Match is then checked against the fresh version). Any other
// database failure answers Unavailable (503) for the batch and drops its streams from the cache.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <variant>
#include <vector>

#include "common/domain/order.hpp"
#include "write-side/commands/aggregate_cache.hpp"
#include "write-side/commands/event_metadata.hpp"
#include "write-side/store/event_store.hpp"

namespace orders::log {
class Logger;
}
namespace orders::metrics {
class Registry;
class Counter;
class Histogram;
}  // namespace orders::metrics
namespace orders::pg {
class Pool;
}

namespace orders::write_side {

struct IdempotencyInfo {
  std::string key;
  std::string endpoint;      // "POST /orders/a1/items"
  std::string request_hash;  // sha-256 hex of the body
};

// ---- outcomes (values, mapped to HTTP by http_api) ----
inline constexpr std::int64_t kPendingPosition = -1;  // see Renderer
struct Committed {
  std::int64_t version = 0;   // stream version after the command
  std::int64_t position = 0;  // store position of its last event
};
struct Rejected {
  domain::Rejection rejection;
};
struct VersionMismatch {
  std::int64_t expected = 0;
  std::int64_t actual = 0;
};
struct Replayed {  // same Idempotency-Key, same request: the first response
  StoredResponse response;
};
struct KeyReused {};    // same Idempotency-Key, another request (422)
struct EventTooLarge {  // an event's encoded data + metadata over event_limit (413)
  std::string event_type;
  std::size_t size = 0;
  std::size_t limit = 0;
};
struct Unavailable {  // not committed (or not known to be): 503
  std::string detail;
};
using Outcome = std::variant<Committed, Rejected, VersionMismatch, Replayed, KeyReused, Unavailable,
                             EventTooLarge>;

// Renders the response of an outcome, stored with an Idempotency-Key. For Committed the position is
// kPendingPosition and must be rendered as "position":null: the store records the position of the
// command's last event instead and puts it back into the body when it replays the response.
using Renderer = std::function<StoredResponse(const std::string& order_id, const Outcome&)>;

struct CommandRequest {
  std::string order_id;
  domain::Command command;
  std::optional<std::int64_t> expected_version;  // If-Match
  std::optional<IdempotencyInfo> idempotency;
  Renderer render;     // required when idempotency is set
  CommandTrace trace;  // recorded in the events' metadata
};

struct PipelineOptions {
  bool group_commit = true;     // off: one command per transaction
  std::size_t max_batch = 256;  // commands per transaction (group commit on)
  std::size_t committers = 2;   // concurrent transactions (pipelining); off: parallel singles
  std::size_t cache_size = 100'000;
  std::int64_t snapshot_every = 100;  // 0: no snapshots
  domain::OrderLimits limits;         // MAX_ORDER_LINES
  // EVENT_LIMIT_BYTES: most bytes of one event's encoded data + metadata. Every client field is
  // bounded already (ids 1-128 characters), so no event comes near the default; the check guards
  // the store and the bus against a future field or header that is not.
  std::size_t event_limit = 65536;
  int max_attempts = 20;  // re-runs after conflicts before answering 503
  // While other batches are in flight, a committer starts another one only when the queue holds
  // at least half an average in-flight batch, or this many commands: tiny pipelined batches would
  // spend the CPU on per-transaction overhead instead of batching.
  std::size_t pipeline_min_batch = 16;
  // A batch of fewer than pipeline_min_batch commands waits until its oldest command has waited
  // this long (or the queue reaches pipeline_min_batch): at low rates one transaction then
  // carries several commands instead of one or two, which costs Postgres, this process and the
  // relay far less CPU per command (commit_delay in Postgres' terms). 0: start at once.
  std::chrono::microseconds commit_delay{0};
};

class CommandPipeline {
 public:
  CommandPipeline(pg::Pool& pool, PipelineOptions options, log::Logger& logger,
                  metrics::Registry& metrics);
  ~CommandPipeline();
  CommandPipeline(const CommandPipeline&) = delete;
  CommandPipeline& operator=(const CommandPipeline&) = delete;

  // Called after every commit that appended events (e.g. wakes the outbox relay). Set before
  // start().
  void set_commit_listener(std::function<void()> listener) { on_commit_ = std::move(listener); }

  void start();
  // Calls done exactly once with the command's outcome, on a committer thread (or at once on the
  // caller's when not accepting: Unavailable). done must not block; exceptions it throws are
  // dropped.
  using Done = std::function<void(Outcome)>;
  void submit(CommandRequest request, Done done);
  // Stops accepting, finishes every queued command and the batches in flight, joins the threads.
  void stop();

  AggregateCache& cache() { return cache_; }
  const PipelineOptions& options() const { return options_; }

 private:
  struct Pending {
    CommandRequest request;
    Done done;
    int attempts = 0;
    std::chrono::steady_clock::time_point enqueued;
  };
  using PendingPtr = std::unique_ptr<Pending>;

  void committer_loop();
  std::vector<PendingPtr> take_batch();  // empty when stopping and drained
  using Completion = std::pair<PendingPtr, Outcome>;
  // Decides and writes a batch; fills done (answered after the batch is released) and retry.
  // Its phases below share one Batch (command_pipeline.cpp): the batch's working state.
  void process(std::vector<PendingPtr>& batch, std::vector<Completion>& done,
               std::vector<PendingPtr>& retry);
  struct Batch;
  void find_seen_keys(pqxx::connection& conn, Batch& b);
  void load_states(pqxx::connection& conn, Batch& b);
  void decide_all(Batch& b);
  void decide_command(Batch& b, std::size_t i);
  void plan_checks_and_snapshots(Batch& b);
  AppendResult write(pqxx::connection& conn, Batch& b);
  void answer(Batch& b, AppendResult& result, std::vector<Completion>& done,
              std::vector<PendingPtr>& retry);
  // A command that met a conflict: queued again, or Unavailable after max_attempts.
  void retry_or_fail(PendingPtr& p, const char* why, std::vector<Completion>& done,
                     std::vector<PendingPtr>& retry);
  // Every command of the batch not answered yet: Unavailable, its stream dropped from the cache.
  void fail_all(std::vector<PendingPtr>& batch, const std::string& detail,
                std::vector<Completion>& done);
  void finish(Pending& p, Outcome outcome);

  pg::Pool& pool_;
  PipelineOptions options_;
  log::Logger& log_;
  metrics::Registry& metrics_;
  AggregateCache cache_;
  std::function<void()> on_commit_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PendingPtr> queue_;
  std::unordered_set<std::string> busy_streams_;
  std::unordered_set<std::string> busy_keys_;
  std::size_t in_flight_ = 0;            // batches being processed
  std::size_t in_flight_commands_ = 0;   // commands in those batches
  std::size_t delaying_committers_ = 0;  // waiting out commit_delay (woken by a full batch only)
  std::size_t idle_committers_ = 0;      // waiting on cv_ (execute() only signals when one is)
  bool accepting_ = false;
  bool stopping_ = false;
  std::vector<std::thread> threads_;

  // metrics
  std::vector<metrics::Counter*> outcome_counters_;  // [command index * kOutcomes + outcome index]
  metrics::Histogram* append_seconds_ = nullptr;
  metrics::Histogram* batch_size_ = nullptr;
  metrics::Histogram* command_seconds_ = nullptr;
  metrics::Counter* conflicts_ = nullptr;
  metrics::Histogram* attempts_ = nullptr;
};

}  // namespace orders::write_side
