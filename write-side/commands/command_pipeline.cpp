#include "write-side/commands/command_pipeline.hpp"

#include <string_view>
#include <unordered_map>

#include "common/codec/event_codec.hpp"
#include "common/codec/state_codec.hpp"
#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "common/pg/pool.hpp"
#include "common/pg/sqlstate.hpp"
#include "write-side/crypto/uuid.hpp"

namespace orders::write_side {
namespace {

constexpr std::string_view kOutcomeNames[] = {"committed", "rejected",   "version_mismatch",
                                              "replayed",  "key_reused", "unavailable",
                                              "too_large"};
constexpr std::size_t kOutcomes = std::size(kOutcomeNames);
constexpr std::string_view kCommandNames[] = {"CreateOrder",  "AddItem",   "RemoveItem",
                                              "ConfirmOrder", "ShipOrder", "DeliverOrder"};
static_assert(std::size(kCommandNames) == std::variant_size_v<domain::Command>);
static_assert(kOutcomes == std::variant_size_v<Outcome>);

struct StreamWork {
  domain::OrderState state;
  std::int64_t base_version = 0;
  std::int64_t replayed = 0;  // events folded by the load (0 when cached): snapshot when too many
  bool decided = false;       // some command was decided on it
  bool appended = false;      // some command appended events
};

}  // namespace

CommandPipeline::CommandPipeline(pg::Pool& pool, PipelineOptions options, log::Logger& logger,
                                 metrics::Registry& metrics)
    : pool_(pool), options_(options), log_(logger), metrics_(metrics), cache_(options.cache_size) {
  if (options_.committers == 0) options_.committers = 1;
  if (options_.max_batch == 0) options_.max_batch = 1;
  if (!options_.group_commit) options_.max_batch = 1;
  outcome_counters_.reserve(std::size(kCommandNames) * kOutcomes);
  for (auto command : kCommandNames) {
    for (auto outcome : kOutcomeNames) {
      outcome_counters_.push_back(
          &metrics_.counter("orders_commands_total",
                            "Commands handled by the write-side pipeline, by type and outcome",
                            {{"type", std::string(command)}, {"outcome", std::string(outcome)}}));
    }
  }
  append_seconds_ = &metrics_.histogram(
      "orders_append_seconds", "Time of one group-commit append statement (one transaction)");
  batch_size_ =
      &metrics_.histogram("orders_group_commit_batch_size", "Commands per group-commit batch", {},
                          {1, 2, 4, 8, 16, 32, 64, 128, 256, 512});
  command_seconds_ = &metrics_.histogram("orders_command_seconds",
                                         "Time from a command's submission to its outcome");
  conflicts_ = &metrics_.counter("orders_stream_conflicts_total",
                                 "Streams whose batch rows were dropped and re-run (stale state)");
  attempts_ = &metrics_.histogram("orders_command_attempts",
                                  "Runs a command took (1 = no conflict; max_attempts = gave up)",
                                  {}, {1, 2, 3, 5, 10, 20});
}

CommandPipeline::~CommandPipeline() {
  stop();
}

void CommandPipeline::start() {
  std::lock_guard lock(mu_);
  if (!threads_.empty() || stopping_) return;
  accepting_ = true;
  for (std::size_t i = 0; i < options_.committers; ++i) {
    threads_.emplace_back([this] { committer_loop(); });
  }
}

void CommandPipeline::stop() {
  {
    std::lock_guard lock(mu_);
    accepting_ = false;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  // Nothing can be left: committers exit only with an empty queue. Belt and braces:
  std::lock_guard lock(mu_);
  for (auto& p : queue_) finish(*p, Unavailable{"the service is shutting down"});
  queue_.clear();
}

void CommandPipeline::submit(CommandRequest request, Done done) {
  auto p = std::make_unique<Pending>();
  p->request = std::move(request);
  p->done = std::move(done);
  p->enqueued = std::chrono::steady_clock::now();
  bool wake = false;
  {
    std::unique_lock lock(mu_);
    if (!accepting_) {
      lock.unlock();
      finish(*p, Unavailable{"the service is shutting down"});
      return;
    }
    queue_.push_back(std::move(p));
    // A busy committer looks at the queue again when its batch is done; only an idle one needs a
    // wake-up (saves a futex call per command under load).
    wake = idle_committers_ > 0 ||
           (delaying_committers_ > 0 && queue_.size() >= options_.pipeline_min_batch);
  }
  if (wake) cv_.notify_one();
}

void CommandPipeline::finish(Pending& p, Outcome outcome) {
  const std::size_t command = p.request.command.index();
  outcome_counters_[command * kOutcomes + outcome.index()]->inc();
  command_seconds_->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - p.enqueued).count());
  attempts_->observe(static_cast<double>(std::max(p.attempts, 0) + 1));
  try {
    p.done(std::move(outcome));
  } catch (const std::exception& e) {
    log_.error("command completion failed", {{"error", e.what()}});
  } catch (...) {
    log_.error("command completion failed");
  }
}

std::vector<CommandPipeline::PendingPtr> CommandPipeline::take_batch() {
  std::unique_lock lock(mu_);
  std::vector<PendingPtr> batch;
  for (;;) {
    const bool worth_it = in_flight_ == 0 || stopping_ || !options_.group_commit ||
                          queue_.size() >= options_.pipeline_min_batch ||
                          queue_.size() * 2 * in_flight_ >= in_flight_commands_;
    if (!queue_.empty() && worth_it && options_.group_commit && options_.commit_delay.count() > 0 &&
        !stopping_ && queue_.size() < options_.pipeline_min_batch) {
      const auto due = queue_.front()->enqueued + options_.commit_delay;
      if (std::chrono::steady_clock::now() < due) {
        ++delaying_committers_;
        cv_.wait_until(lock, due,
                       [&] { return stopping_ || queue_.size() >= options_.pipeline_min_batch; });
        --delaying_committers_;
        continue;  // whatever is queued now (another committer may have taken it)
      }
    }
    if (!queue_.empty() && worth_it) {
      std::unordered_set<std::string> blocked;  // streams skipped in this scan keep their order
      std::unordered_set<std::string> batch_keys;
      for (auto it = queue_.begin(); it != queue_.end() && batch.size() < options_.max_batch;) {
        const auto& req = (*it)->request;
        bool eligible = !busy_streams_.count(req.order_id) && !blocked.count(req.order_id);
        if (eligible && req.idempotency) {
          const auto& key = req.idempotency->key;
          eligible = !busy_keys_.count(key) && !batch_keys.count(key);
        }
        if (!eligible) {
          blocked.insert(req.order_id);
          ++it;
          continue;
        }
        if (req.idempotency) batch_keys.insert(req.idempotency->key);
        batch.push_back(std::move(*it));
        it = queue_.erase(it);
      }
      if (!batch.empty()) {
        for (const auto& p : batch) {
          busy_streams_.insert(p->request.order_id);
          if (p->request.idempotency) busy_keys_.insert(p->request.idempotency->key);
        }
        ++in_flight_;
        in_flight_commands_ += batch.size();
        return batch;
      }
    }
    if (stopping_ && queue_.empty() && in_flight_ == 0) return batch;
    ++idle_committers_;
    cv_.wait(lock);
    --idle_committers_;
  }
}

void CommandPipeline::committer_loop() {
  for (;;) {
    auto batch = take_batch();
    if (batch.empty()) return;
    std::vector<std::string> streams;
    std::vector<std::string> keys;
    for (const auto& p : batch) {
      streams.push_back(p->request.order_id);
      if (p->request.idempotency) keys.push_back(p->request.idempotency->key);
    }
    std::vector<Completion> done;
    done.reserve(batch.size());
    std::vector<PendingPtr> retry;
    process(batch, done, retry);
    // Release the batch's streams and keys before answering, so the next batch can start at once
    // (answering wakes many threads; on a busy machine this thread may not run again soon).
    {
      std::lock_guard lock(mu_);
      for (const auto& s : streams) busy_streams_.erase(s);
      for (const auto& k : keys) busy_keys_.erase(k);
      for (auto it = retry.rbegin(); it != retry.rend(); ++it) queue_.push_front(std::move(*it));
      --in_flight_;
      in_flight_commands_ -= streams.size();
    }
    cv_.notify_all();
    for (auto& [p, outcome] : done) finish(*p, std::move(outcome));
  }
}

// One batch's working state, shared by the phases of process(); indexed like `commands`.
struct CommandPipeline::Batch {
  explicit Batch(std::vector<PendingPtr>& batch)
      : commands(batch),
        outcomes(batch.size()),
        immediate(batch.size(), false),
        last_event(batch.size()) {}

  std::vector<PendingPtr>& commands;
  std::unordered_map<std::string, KeyRecord> found;  // idempotency keys seen before
  std::unordered_map<std::string, StreamWork> streams;
  std::vector<Outcome> outcomes;
  std::vector<bool> immediate;          // answered from a stored key: no stream work
  std::vector<std::string> last_event;  // event id of the command's last event ("" when none)
  std::vector<NewEvent> events;
  std::vector<NewKeyRecord> key_records;
  std::vector<VersionCheck> checks;
  std::vector<NewSnapshot> snapshots;
};

void CommandPipeline::process(std::vector<PendingPtr>& batch, std::vector<Completion>& done,
                              std::vector<PendingPtr>& retry) {
  batch_size_->observe(static_cast<double>(batch.size()));
  try {
    auto lease = pool_.acquire();
    try {
      pqxx::connection& conn = *lease;
      Batch b(batch);
      find_seen_keys(conn, b);
      load_states(conn, b);
      decide_all(b);
      plan_checks_and_snapshots(b);
      auto result = write(conn, b);
      answer(b, result, done, retry);
    } catch (const pqxx::broken_connection&) {
      lease.discard();
      throw;
    }
  } catch (const pqxx::sql_error& e) {
    if (pg::is_retryable_conflict(e)) {
      for (auto& p : batch) {
        if (!p) continue;
        cache_.mark_stale(p->request.order_id);
        retry_or_fail(p, "transaction rolled back", done, retry);
      }
      return;
    }
    log_.error("append batch failed",
               {{"sqlstate", e.sqlstate()}, {"error", e.what()}, {"commands", batch.size()}});
    fail_all(batch, "the event store is unavailable", done);
  } catch (const CorruptStream& e) {
    log_.error("stream cannot be decoded", {{"error", e.what()}});
    fail_all(batch, "a stored event could not be read", done);
  } catch (const pg::PoolExhausted&) {
    fail_all(batch, "no database connection available", done);
  } catch (const std::exception& e) {
    log_.error("append batch failed", {{"error", e.what()}, {"commands", batch.size()}});
    fail_all(batch, "the event store is unavailable", done);
  }
}

void CommandPipeline::retry_or_fail(PendingPtr& p, const char* why, std::vector<Completion>& done,
                                    std::vector<PendingPtr>& retry) {
  if (++p->attempts >= options_.max_attempts) {
    done.emplace_back(std::move(p),
                      Unavailable{std::string("gave up after repeated conflicts: ") + why});
  } else {
    retry.push_back(std::move(p));
  }
}

void CommandPipeline::fail_all(std::vector<PendingPtr>& batch, const std::string& detail,
                               std::vector<Completion>& done) {
  for (auto& p : batch) {
    if (!p) continue;
    cache_.erase(p->request.order_id);
    done.emplace_back(std::move(p), Unavailable{detail});
  }
}

// The stored records of the batch's idempotency keys that were used before.
void CommandPipeline::find_seen_keys(pqxx::connection& conn, Batch& b) {
  std::vector<std::string> keys;
  for (const auto& p : b.commands) {
    if (p->request.idempotency) keys.push_back(p->request.idempotency->key);
  }
  b.found = find_keys(conn, keys);
}

// The state of every stream a command needs: cached (caught up when stale), else snapshot + newer
// events. Commands answered from a stored idempotency key need none; a first-attempt create
// assumes a new stream.
void CommandPipeline::load_states(pqxx::connection& conn, Batch& b) {
  std::vector<std::string> missing;
  std::unordered_map<std::string, LoadedStream> stale;
  for (const auto& p : b.commands) {
    const auto& req = p->request;
    if (req.idempotency && b.found.count(req.idempotency->key)) continue;
    if (b.streams.count(req.order_id)) continue;
    auto& w = b.streams[req.order_id];
    if (auto cached = cache_.get(req.order_id); cached && cached->stale) {
      stale.emplace(req.order_id, LoadedStream{std::move(cached->state), 0});
    } else if (cached) {
      w.state = std::move(cached->state);
      w.base_version = w.state.version;
    } else if (std::holds_alternative<domain::CreateOrder>(req.command) && p->attempts == 0) {
      // A create assumes a new stream without a read: if it exists after all, inserting
      // version 1 conflicts (or the check fails) and the retry loads it.
    } else {
      missing.push_back(req.order_id);
    }
  }
  auto loaded = load_streams(conn, missing);
  catch_up_streams(conn, stale);
  loaded.merge(stale);
  for (auto& [id, l] : loaded) {
    auto& w = b.streams[id];
    w.state = std::move(l.state);
    w.base_version = w.state.version;
    w.replayed = l.replayed;
  }
}

// Every command in arrival order on the in-memory states (so commands on one stream chain into
// consecutive versions), with the idempotency record of each keyed command.
void CommandPipeline::decide_all(Batch& b) {
  for (std::size_t i = 0; i < b.commands.size(); ++i) {
    const auto& req = b.commands[i]->request;
    if (req.idempotency) {
      auto f = b.found.find(req.idempotency->key);
      if (f != b.found.end()) {
        b.immediate[i] = true;
        if (f->second.endpoint == req.idempotency->endpoint &&
            f->second.request_hash == req.idempotency->request_hash) {
          b.outcomes[i] = Replayed{f->second.response};
        } else {
          b.outcomes[i] = KeyReused{};
        }
        continue;
      }
    }
    decide_command(b, i);
    if (req.idempotency && req.render) {
      NewKeyRecord rec;
      rec.key = req.idempotency->key;
      rec.stream_id = req.order_id;
      rec.endpoint = req.idempotency->endpoint;
      rec.request_hash = req.idempotency->request_hash;
      rec.response = req.render(req.order_id, b.outcomes[i]);
      if (std::holds_alternative<Committed>(b.outcomes[i]) && !b.last_event[i].empty()) {
        rec.last_event_id = b.last_event[i];
      }
      b.key_records.push_back(std::move(rec));
    }
  }
}

// One command: If-Match, then the domain's decision; its events evolve the stream's state.
void CommandPipeline::decide_command(Batch& b, std::size_t i) {
  const auto& req = b.commands[i]->request;
  auto& w = b.streams[req.order_id];
  w.decided = true;
  const bool is_create = std::holds_alternative<domain::CreateOrder>(req.command);
  if (req.expected_version && (is_create || w.state.exists()) &&
      w.state.version != *req.expected_version) {
    b.outcomes[i] = VersionMismatch{*req.expected_version, w.state.version};
    return;
  }
  auto decision = domain::decide(req.command, w.state, options_.limits);
  if (auto* rejection = std::get_if<domain::Rejection>(&decision)) {
    b.outcomes[i] = Rejected{std::move(*rejection)};
    return;
  }
  auto& new_events = std::get<std::vector<domain::Event>>(decision);
  // Encoded and measured before the state moves: an event over the limit leaves the stream as
  // it was. The command caused its first event, each event the next one.
  std::vector<NewEvent> encoded;
  encoded.reserve(new_events.size());
  std::string causation_id = req.trace.request_id;
  for (const auto& e : new_events) {
    NewEvent ne;
    ne.event_id = uuid_v7();
    ne.stream_id = req.order_id;
    ne.type = std::string(domain::event_type(e));
    ne.schema_version = codec::current_schema_version(ne.type);
    ne.data = codec::encode_event_data(e).dump();
    ne.metadata = event_metadata(domain::command_name(req.command), req.trace, causation_id);
    const std::size_t size = ne.data.size() + ne.metadata.size();
    if (size > options_.event_limit) {
      b.outcomes[i] = EventTooLarge{ne.type, size, options_.event_limit};
      return;
    }
    causation_id = ne.event_id;
    encoded.push_back(std::move(ne));
  }
  for (std::size_t k = 0; k < new_events.size(); ++k) {
    w.state = domain::evolve(std::move(w.state), new_events[k]);
    encoded[k].version = w.state.version;
    b.last_event[i] = encoded[k].event_id;
    b.events.push_back(std::move(encoded[k]));
  }
  if (!new_events.empty()) w.appended = true;
  b.outcomes[i] = Committed{w.state.version, kPendingPosition};
}

// A version check for each stream decided on without appending (its state must not have moved),
// a snapshot for each stream that crossed a snapshot_every boundary or took long to load.
void CommandPipeline::plan_checks_and_snapshots(Batch& b) {
  for (const auto& [id, w] : b.streams) {
    if (w.decided && !w.appended) b.checks.push_back({id, w.base_version});
    // Every N versions, and also when the load had to fold N or more events (a stream
    // written without snapshots, e.g. imported, or snapshots of an older state schema).
    if (w.appended && options_.snapshot_every > 0 &&
        (w.base_version / options_.snapshot_every != w.state.version / options_.snapshot_every ||
         w.replayed >= options_.snapshot_every)) {
      b.snapshots.push_back({id, w.state.version, codec::state_to_snapshot_json(w.state)});
    }
  }
}

// One statement = one transaction = one fsync; nothing is sent when nothing needs writing.
AppendResult CommandPipeline::write(pqxx::connection& conn, Batch& b) {
  AppendResult result;
  if (b.events.empty() && b.key_records.empty() && b.checks.empty()) return result;
  const auto t0 = std::chrono::steady_clock::now();
  result = append_batch(conn, b.events, b.key_records, b.snapshots, b.checks);
  append_seconds_->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (on_commit_ && !result.events.empty()) on_commit_();
  return result;
}

// After the commit: the cache takes the committed states, a failed stream's commands are re-run,
// every other command gets its outcome (a commit with the position of its last event).
void CommandPipeline::answer(Batch& b, AppendResult& result, std::vector<Completion>& done,
                             std::vector<PendingPtr>& retry) {
  for (const auto& id : result.failed_streams) {
    cache_.mark_stale(id);
    conflicts_->inc();
  }
  for (auto& [id, w] : b.streams) {
    if (w.decided && !result.failed_streams.count(id)) cache_.put(id, std::move(w.state));
  }
  for (std::size_t i = 0; i < b.commands.size(); ++i) {
    auto& p = b.commands[i];
    if (!b.immediate[i] && result.failed_streams.count(p->request.order_id)) {
      retry_or_fail(p, "stream changed concurrently", done, retry);
      continue;
    }
    if (auto* c = std::get_if<Committed>(&b.outcomes[i]); c && !b.last_event[i].empty()) {
      auto stored = result.events.find(b.last_event[i]);
      if (stored == result.events.end()) {  // cannot happen: the stream did not fail
        cache_.erase(p->request.order_id);
        done.emplace_back(std::move(p), Unavailable{"append result incomplete"});
        continue;
      }
      c->position = stored->second.position;
    }
    done.emplace_back(std::move(p), std::move(b.outcomes[i]));
  }
}

}  // namespace orders::write_side
