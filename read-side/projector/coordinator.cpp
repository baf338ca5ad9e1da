#include "projector/coordinator.hpp"

#include <functional>
#include <set>

#include <pqxx/pqxx>

#include "codec/recorded_event.hpp"
#include "log/logger.hpp"
#include "projection/status.hpp"

namespace orders::read_side {

int fair_share(int partitions, int live_replicas) {
  if (live_replicas < 1) live_replicas = 1;
  return (partitions + live_replicas - 1) / live_replicas;
}

Coordinator::Coordinator(ProjectorContext& ctx, std::string replica_id)
    : ctx_(ctx),
      replica_id_(std::move(replica_id)),
      offset_(static_cast<int>(std::hash<std::string>{}(replica_id_) % codec::kPartitions)) {
  thread_ = std::thread([this] { run(); });
}

Coordinator::~Coordinator() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::map<int, std::unique_ptr<PartitionWorker>> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& [p, w] : workers) w->request_stop();
  workers.clear();  // joins
  try {
    if (conn_) {
      pqxx::work tx(*conn_);
      tx.exec_prepared("rc_leave", replica_id_);
      tx.commit();
    }
  } catch (const std::exception&) {
    // the heartbeat expires on its own
  }
}

std::vector<int> Coordinator::owned() const {
  std::lock_guard lock(mu_);
  std::vector<int> out;
  for (const auto& [p, w] : workers_) {
    if (w->state() == PartitionWorker::State::Owned) out.push_back(p);
  }
  return out;
}

void Coordinator::run() {
  while (true) {
    try {
      tick();
    } catch (const std::exception& e) {
      conn_.reset();
      ctx_.logger.warn("coordinator tick failed", {{"error", e.what()}});
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, kCoordinatorTick, [&] { return stop_; })) return;
  }
}

void Coordinator::tick() {
  if (!conn_) {
    conn_ = std::make_unique<pqxx::connection>(ctx_.database_url);
    conn_->prepare("rc_heartbeat",
                   "INSERT INTO read_side_replicas (replica_id, heartbeat_at, partitions) "
                   "VALUES ($1, now(), $2) ON CONFLICT (replica_id) DO UPDATE SET "
                   "heartbeat_at = now(), partitions = EXCLUDED.partitions");
    conn_->prepare("rc_live",
                   "SELECT count(*) FROM read_side_replicas WHERE heartbeat_at > now() - "
                   "$1::int * interval '1 millisecond'");
    conn_->prepare("rc_gc",
                   "DELETE FROM read_side_replicas WHERE heartbeat_at < now() - interval '1 hour'");
    conn_->prepare("rc_held",
                   "SELECT objid::int FROM pg_locks WHERE locktype = 'advisory' AND "
                   "classid = $1::int::oid AND objsubid = 2 AND granted");
    conn_->prepare("rc_leave", "DELETE FROM read_side_replicas WHERE replica_id = $1");
    prepare_status_statements(*conn_);
  }

  std::string owned_text;
  {
    std::lock_guard lock(mu_);
    // Reap workers that did not get the lock or lost it.
    for (auto it = workers_.begin(); it != workers_.end();) {
      auto st = it->second->state();
      if (st == PartitionWorker::State::LockBusy || st == PartitionWorker::State::Lost ||
          st == PartitionWorker::State::Stopped) {
        it = workers_.erase(it);
      } else {
        if (!owned_text.empty()) owned_text += ",";
        owned_text += std::to_string(it->first);
        ++it;
      }
    }
  }

  int live = 1;
  std::set<int> held;
  std::vector<ProjectionStatus> status;
  {
    pqxx::work tx(*conn_);
    tx.exec_prepared("rc_heartbeat", replica_id_, owned_text);
    live = static_cast<int>(tx.exec_prepared1("rc_live", static_cast<int>(
                                std::chrono::duration_cast<std::chrono::milliseconds>(kReplicaTtl).count()))[0]
                                .as<std::int64_t>());
    for (const auto& row : tx.exec_prepared("rc_held", kPartitionLockClass)) held.insert(row[0].as<int>());
    tx.exec_prepared("rc_gc");
    status = read_projection_status(tx);
    tx.commit();
  }
  for (const auto& s : status) {
    if (s.name == "orders") {
      ctx_.metrics.lag_events_orders.set(static_cast<double>(s.lag_events));
      ctx_.metrics.lag_seconds_orders.set(s.lag_seconds);
    } else if (s.name == "customers") {
      ctx_.metrics.lag_events_customers.set(static_cast<double>(s.lag_events));
      ctx_.metrics.lag_seconds_customers.set(s.lag_seconds);
    }
  }

  const int target = fair_share(codec::kPartitions, live);
  std::vector<std::unique_ptr<PartitionWorker>> released;
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    int owned = static_cast<int>(workers_.size());
    // Release the excess, furthest from our preferred starting partition first.
    for (int k = codec::kPartitions - 1; k >= 0 && owned > target; --k) {
      const int p = (offset_ + k) % codec::kPartitions;
      auto it = workers_.find(p);
      if (it == workers_.end()) continue;
      it->second->request_stop();
      released.push_back(std::move(it->second));
      workers_.erase(it);
      --owned;
    }
    for (int k = 0; k < codec::kPartitions && owned < target; ++k) {
      const int p = (offset_ + k) % codec::kPartitions;
      if (held.count(p) || workers_.count(p)) continue;
      workers_.emplace(p, std::make_unique<PartitionWorker>(p, ctx_));
      ++owned;
    }
    ctx_.metrics.owned_partitions.set(static_cast<double>(owned));
  }
  if (!released.empty()) {
    ctx_.logger.info("releasing partitions over the fair share",
                     {{"count", released.size()}, {"target", target}, {"live_replicas", live}});
  }
  released.clear();  // joins: each finishes and acks its current batch
}

}  // namespace orders::read_side
