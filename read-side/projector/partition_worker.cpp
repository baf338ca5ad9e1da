#include "projector/partition_worker.hpp"

#include <chrono>

#include <pqxx/pqxx>

#include "bus/jetstream.hpp"
#include "codec/recorded_event.hpp"
#include "log/logger.hpp"
#include "projection/batch_apply.hpp"
#include "projection/store.hpp"
#include "projector/listener.hpp"

namespace orders::read_side {

namespace {
using Clock = std::chrono::steady_clock;
}

PartitionWorker::PartitionWorker(int partition, ProjectorContext& ctx)
    : partition_(partition), ctx_(ctx) {
  thread_ = std::thread([this] { run(); });
}

PartitionWorker::~PartitionWorker() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void PartitionWorker::request_stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

void PartitionWorker::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return stop_.load(); });
}

void PartitionWorker::run() {
  const nlohmann::json fields = {{"partition", partition_}};
  try {
    pqxx::connection conn(ctx_.database_url);
    // libpqxx 6.4 silently reconnects a broken connection, which would drop the partition's advisory
    // lock while this worker keeps applying: never reactivate, give the partition up instead.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    conn.inhibit_reactivation(true);
#pragma GCC diagnostic pop
    prepare_projector_statements(conn);
    conn.prepare("rs_event_at", std::string("SELECT ") + kEventColumns + " FROM " + kEventFrom +
                                    " WHERE g.global_position = $1");
    conn.prepare("rs_try_lock", "SELECT pg_try_advisory_lock($1::int, $2::int)");
    conn.prepare("rs_ping", "SELECT 1");
    bool locked = false;
    {
      pqxx::nontransaction n(conn);
      locked = n.exec_prepared1("rs_try_lock", kPartitionLockClass, partition_)[0].as<bool>();
    }
    if (!locked) {
      state_ = State::LockBusy;
      return;
    }
    state_ = State::Owned;
    ctx_.logger.info("partition acquired", fields);
    consume(conn);
    state_ = State::Stopped;
    ctx_.logger.info("partition released", fields);
  } catch (const std::exception& e) {
    // The lock (if held) went with the connection.
    state_ = State::Lost;
    ctx_.logger.warn("partition lost", {{"partition", partition_}, {"error", e.what()}});
  }
}

void PartitionWorker::consume(pqxx::connection& conn) {
  const std::string prefix = ctx_.bus.subject_prefix();
  bus::ConsumerOptions options;
  options.durable = "read_side_p" + std::to_string(partition_);
  options.filter_subject = prefix + ".events." + std::to_string(partition_);

  std::unique_ptr<bus::PullConsumer> consumer;
  auto backoff = std::chrono::milliseconds(100);
  int fetch_errors = 0;
  auto last_ping = Clock::now();
  ViewCache cache;  // this partition's views as last committed; dies with the partition's lock

  while (!stop_) {
    if (!consumer) {
      try {
        consumer = std::make_unique<bus::PullConsumer>(ctx_.bus, options);
        backoff = std::chrono::milliseconds(100);
        fetch_errors = 0;
      } catch (const bus::NatsError& e) {
        ctx_.logger.warn("consumer not ready", {{"partition", partition_}, {"error", e.what()}});
        pause(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
        continue;
      }
    }
    std::vector<bus::Message> msgs;
    try {
      msgs = consumer->fetch(ctx_.batch_size, std::chrono::milliseconds(500));
      fetch_errors = 0;
    } catch (const bus::NatsError& e) {
      if (++fetch_errors >= 5) consumer.reset();  // re-bind after a persistent failure
      ctx_.logger.debug("fetch failed", {{"partition", partition_}, {"error", e.what()}});
      pause(std::chrono::milliseconds(100 * std::min(fetch_errors, 10)));
      continue;
    }
    if (msgs.empty()) {
      // Idle: make sure the lock-holding connection is still alive.
      if (Clock::now() - last_ping > std::chrono::seconds(2)) {
        pqxx::nontransaction n(conn);
        n.exec_prepared("rs_ping");
        last_ping = Clock::now();
      }
      continue;
    }

    const auto started = Clock::now();
    std::vector<codec::RecordedEvent> events;
    events.reserve(msgs.size());
    try {
      for (const auto& m : msgs) {
        auto e = codec::from_wire_json(m.data());
        if (!e) {
          // Not a readable event body: the event store has it at this global position.
          pqxx::read_transaction rt(conn);
          auto r = rt.exec_prepared("rs_event_at", static_cast<std::int64_t>(m.stream_sequence()));
          if (r.empty()) {
            throw ApplyError("bus message " + std::to_string(m.stream_sequence()) +
                             " is not an event and the event store has no such position");
          }
          e = event_from_row(r[0]);
        }
        if (!e->global_position) e->global_position = static_cast<std::int64_t>(m.stream_sequence());
        events.push_back(std::move(*e));
      }
      auto stats = apply_batch(conn, partition_, events, &cache);
      auto& po = stats.by_projection["orders"];
      auto& pc = stats.by_projection["customers"];
      ctx_.metrics.applied_orders.inc(static_cast<double>(po.applied));
      ctx_.metrics.applied_customers.inc(static_cast<double>(pc.applied));
      ctx_.metrics.duplicates.inc(static_cast<double>(po.duplicates));
      ctx_.metrics.gap_filled.inc(static_cast<double>(po.gap_filled));
      if (po.gap_filled > 0 || pc.gap_filled > 0) {
        ctx_.logger.info("gap filled from the event store",
                         {{"partition", partition_}, {"orders", po.gap_filled}, {"customers", pc.gap_filled}});
      }
    } catch (const pqxx::broken_connection&) {
      consumer->nak(msgs);
      throw;  // the lock is gone with the connection
    } catch (const pqxx::in_doubt_error&) {
      // "Connection lost while committing": the lock is gone too; another replica may own the
      // partition now. Redelivered events that did commit are skipped as duplicates.
      consumer->nak(msgs);
      throw;
    } catch (const std::exception& e) {
      ctx_.metrics.failures.inc();
      ctx_.logger.error("apply failed, will retry",
                        {{"partition", partition_}, {"error", e.what()},
                         {"first_position", msgs.front().stream_sequence()}});
      consumer->nak(msgs);
      pause(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    {
      // Committed: each order is at least at its highest version in the batch (duplicates were
      // applied before, gaps were filled). Wake only those orders' waiters, here and elsewhere.
      std::vector<AppliedVersion> committed;
      committed.reserve(events.size());
      for (const auto& e : events) committed.push_back(AppliedVersion{e.stream_id, e.version});
      ctx_.notifier.applied(committed);
      if (ctx_.broadcaster) ctx_.broadcaster->request(committed);
    }
    try {
      consumer->ack(msgs);
    } catch (const bus::NatsError& e) {
      // Redelivered later and skipped as duplicates.
      ctx_.logger.warn("ack failed", {{"partition", partition_}, {"error", e.what()}});
    }
    const double secs = std::chrono::duration<double>(Clock::now() - started).count();
    ctx_.metrics.batch_seconds.observe(secs);
    ctx_.metrics.batch_size.observe(static_cast<double>(msgs.size()));
  }
}

}  // namespace orders::read_side
