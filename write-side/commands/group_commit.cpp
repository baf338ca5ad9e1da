#include "write-side/commands/group_commit.hpp"

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
                                              "replayed",  "key_reused", "unavailable"};
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
      outcome_counters_.push_back(&metrics_.counter(
          "commands_total", "Commands handled by the write-side pipeline, by type and outcome",
          {{"type", std::string(command)}, {"outcome", std::string(outcome)}}));
    }
  }
  append_seconds_ = &metrics_.histogram(
      "write_side_append_seconds", "Time of one group-commit append statement (one transaction)");
  batch_size_ = &metrics_.histogram("group_commit_batch_size", "Commands per group-commit batch",
                                    {}, {1, 2, 4, 8, 16, 32, 64, 128, 256, 512});
  command_seconds_ = &metrics_.histogram("write_side_command_seconds",
                                         "Time from a command's submission to its outcome");
  conflicts_ = &metrics_.counter("write_side_stream_conflicts_total",
                                 "Streams whose batch rows were dropped and re-run (stale state)");
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

void CommandPipeline::process(std::vector<PendingPtr>& batch, std::vector<Completion>& done,
                              std::vector<PendingPtr>& retry) {
  batch_size_->observe(static_cast<double>(batch.size()));

  auto retry_or_fail = [&](PendingPtr& p, const char* why) {
    if (++p->attempts >= options_.max_attempts) {
      done.emplace_back(std::move(p),
                        Unavailable{std::string("gave up after repeated conflicts: ") + why});
    } else {
      retry.push_back(std::move(p));
    }
  };
  auto fail_all = [&](const std::string& detail) {
    for (auto& p : batch) {
      if (!p) continue;
      cache_.erase(p->request.order_id);
      done.emplace_back(std::move(p), Unavailable{detail});
    }
  };

  try {
    auto lease = pool_.acquire();
    try {
      pqxx::connection& conn = *lease;

      // 1. idempotency keys seen before
      std::vector<std::string> keys;
      for (const auto& p : batch) {
        if (p->request.idempotency) keys.push_back(p->request.idempotency->key);
      }
      const auto found = find_keys(conn, keys);

      // 2. states: cache, else snapshot + newer events
      std::unordered_map<std::string, StreamWork> streams;
      std::vector<std::string> missing;
      for (const auto& p : batch) {
        const auto& req = p->request;
        if (req.idempotency && found.count(req.idempotency->key)) continue;
        if (streams.count(req.order_id)) continue;
        auto& w = streams[req.order_id];
        if (auto cached = cache_.get(req.order_id)) {
          w.state = std::move(*cached);
          w.base_version = w.state.version;
        } else if (std::holds_alternative<domain::CreateOrder>(req.command) && p->attempts == 0) {
          // A create assumes a new stream without a read: if it exists after all, inserting
          // version 1 conflicts (or the check fails) and the retry loads it.
        } else {
          missing.push_back(req.order_id);
        }
      }
      if (!missing.empty()) {
        auto loaded = load_streams(conn, missing);
        for (auto& [id, l] : loaded) {
          auto& w = streams[id];
          w.state = std::move(l.state);
          w.base_version = w.state.version;
          w.replayed = l.replayed;
        }
      }

      // 3. decide every command in arrival order on in-memory state
      std::vector<Outcome> outcomes(batch.size());
      std::vector<bool> immediate(batch.size(), false);
      std::vector<std::string> last_event(batch.size());
      std::vector<NewEvent> events;
      std::vector<NewKeyRecord> key_records;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto& req = batch[i]->request;
        if (req.idempotency) {
          auto f = found.find(req.idempotency->key);
          if (f != found.end()) {
            immediate[i] = true;
            if (f->second.endpoint == req.idempotency->endpoint &&
                f->second.request_hash == req.idempotency->request_hash) {
              outcomes[i] = Replayed{f->second.response};
            } else {
              outcomes[i] = KeyReused{};
            }
            continue;
          }
        }
        auto& w = streams[req.order_id];
        w.decided = true;
        const bool is_create = std::holds_alternative<domain::CreateOrder>(req.command);
        if (req.expected_version && (is_create || w.state.exists()) &&
            w.state.version != *req.expected_version) {
          outcomes[i] = VersionMismatch{*req.expected_version, w.state.version};
        } else {
          auto decision = domain::decide(req.command, w.state);
          if (auto* rejection = std::get_if<domain::Rejection>(&decision)) {
            outcomes[i] = Rejected{std::move(*rejection)};
          } else {
            auto& new_events = std::get<std::vector<domain::Event>>(decision);
            std::string metadata = "{\"command\":";
            append_json_string(metadata, domain::command_name(req.command));
            metadata += ",\"request_id\":";
            append_json_string(metadata, req.request_id);
            metadata += "}";
            for (const auto& e : new_events) {
              w.state = domain::evolve(std::move(w.state), e);
              NewEvent ne;
              ne.event_id = uuid_v7();
              ne.stream_id = req.order_id;
              ne.version = w.state.version;
              ne.type = std::string(domain::event_type(e));
              ne.schema_version = codec::current_schema_version(ne.type);
              ne.data = codec::encode_event_data(e).dump();
              ne.metadata = metadata;
              last_event[i] = ne.event_id;
              events.push_back(std::move(ne));
            }
            if (!new_events.empty()) w.appended = true;
            outcomes[i] = Committed{w.state.version, kPendingPosition};
          }
        }
        if (req.idempotency && req.render) {
          NewKeyRecord rec;
          rec.key = req.idempotency->key;
          rec.stream_id = req.order_id;
          rec.endpoint = req.idempotency->endpoint;
          rec.request_hash = req.idempotency->request_hash;
          rec.response = req.render(req.order_id, outcomes[i]);
          if (std::holds_alternative<Committed>(outcomes[i]) && !last_event[i].empty()) {
            rec.last_event_id = last_event[i];
          }
          key_records.push_back(std::move(rec));
        }
      }

      std::vector<VersionCheck> checks;
      std::vector<NewSnapshot> snapshots;
      for (const auto& [id, w] : streams) {
        if (w.decided && !w.appended) checks.push_back({id, w.base_version});
        // Every N versions, and also when the load had to fold N or more events (a stream
        // written without snapshots, e.g. imported, or snapshots of an older state schema).
        if (w.appended && options_.snapshot_every > 0 &&
            (w.base_version / options_.snapshot_every !=
                 w.state.version / options_.snapshot_every ||
             w.replayed >= options_.snapshot_every)) {
          snapshots.push_back({id, w.state.version, codec::state_to_snapshot_json(w.state)});
        }
      }

      // 4. one statement = one transaction = one fsync
      AppendResult result;
      if (!events.empty() || !key_records.empty() || !checks.empty()) {
        const auto t0 = std::chrono::steady_clock::now();
        result = append_batch(conn, events, key_records, snapshots, checks);
        append_seconds_->observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        if (on_commit_ && !result.events.empty()) on_commit_();
      }

      // 5. answer (the commit has happened)
      for (const auto& id : result.failed_streams) {
        cache_.erase(id);
        conflicts_->inc();
      }
      for (auto& [id, w] : streams) {
        if (w.decided && !result.failed_streams.count(id)) cache_.put(id, std::move(w.state));
      }
      for (std::size_t i = 0; i < batch.size(); ++i) {
        auto& p = batch[i];
        if (!immediate[i] && result.failed_streams.count(p->request.order_id)) {
          retry_or_fail(p, "stream changed concurrently");
          continue;
        }
        if (auto* c = std::get_if<Committed>(&outcomes[i]); c && !last_event[i].empty()) {
          auto stored = result.events.find(last_event[i]);
          if (stored == result.events.end()) {  // cannot happen: the stream did not fail
            cache_.erase(p->request.order_id);
            done.emplace_back(std::move(p), Unavailable{"append result incomplete"});
            continue;
          }
          c->position = stored->second.position;
        }
        done.emplace_back(std::move(p), std::move(outcomes[i]));
      }
    } catch (const pqxx::broken_connection&) {
      lease.discard();
      throw;
    }
  } catch (const pqxx::sql_error& e) {
    if (pg::is_retryable_conflict(e)) {
      for (auto& p : batch) {
        if (!p) continue;
        cache_.erase(p->request.order_id);
        retry_or_fail(p, "transaction rolled back");
      }
      return;
    }
    log_.error("append batch failed",
               {{"sqlstate", e.sqlstate()}, {"error", e.what()}, {"commands", batch.size()}});
    fail_all("the event store is unavailable");
  } catch (const CorruptStream& e) {
    log_.error("stream cannot be decoded", {{"error", e.what()}});
    fail_all("a stored event could not be read");
  } catch (const pg::PoolExhausted&) {
    fail_all("no database connection available");
  } catch (const std::exception& e) {
    log_.error("append batch failed", {{"error", e.what()}, {"commands", batch.size()}});
    fail_all("the event store is unavailable");
  }
}

}  // namespace orders::write_side
