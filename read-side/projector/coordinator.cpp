#include "read-side/projector/coordinator.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include <pqxx/pqxx>

#include "common/codec/recorded_event.hpp"
#include "common/log/logger.hpp"
#include "read-side/query/projection_status.hpp"
#include "read-side/read_your_writes/peer_presence.hpp"

namespace orders::read_side {

int fair_share(int partitions, int live_replicas) {
  if (live_replicas < 1) live_replicas = 1;
  return (partitions + live_replicas - 1) / live_replicas;
}

Coordinator::Coordinator(ProjectorContext& ctx, std::string replica_id)
    : ctx_(ctx),
      replica_id_(std::move(replica_id)),
      offset_(static_cast<int>(std::hash<std::string>{}(replica_id_) % codec::kPartitions)) {
  const int n = std::clamp(ctx_.appliers, 1, codec::kPartitions);
  for (int k = 0; k < n; ++k) {
    appliers_.push_back(std::make_unique<GroupApplier>(ctx_, (codec::kPartitions + n - 1 - k) / n));
  }
  worker_.start([this](std::stop_token stop) { run(stop); });
}

Coordinator::~Coordinator() {
  worker_.stop();
  std::map<int, std::unique_ptr<PartitionWorker>> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& [p, w] : workers) w->request_stop();
  workers.clear();  // joins; the appliers (destroyed last) then close their connections and locks
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

void Coordinator::run(std::stop_token stop) {
  while (true) {
    try {
      tick(stop);
    } catch (const std::exception& e) {
      conn_.reset();
      ctx_.logger.warn("coordinator tick failed", {{"error", e.what()}});
    }
    if (!concurrency::sleep_for(stop, kCoordinatorTick)) return;
  }
}

void Coordinator::tick(std::stop_token stop) {
  if (!conn_) connect();
  stop_lost_fetchers();
  const auto seen = heartbeat(owned_text());
  const int target = fair_share(codec::kPartitions, seen.live);
  if (stop.stop_requested()) return;
  const auto plan = plan_ownership(target, seen.held);
  if (!plan.excess.empty()) {
    ctx_.logger.info(
        "releasing partitions over the fair share",
        {{"count", plan.excess.size()}, {"target", target}, {"live_replicas", seen.live}});
    // Each fetcher finishes and acks its current batch first.
    stop_and_release([&](int p, const PartitionWorker&, const std::map<int, std::uint64_t>&) {
      return plan.excess.count(p) > 0;
    });
  }
  if (!acquire(plan.wanted, stop)) return;
  std::lock_guard lock(mu_);
  ctx_.metrics.owned_partitions.set(static_cast<double>(workers_.size()));
}

void Coordinator::connect() {
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
  // Advisory locks are cluster-wide: only this database's count (another database of the same
  // cluster running a read side takes the same keys).
  conn_->prepare("rc_held",
                 "SELECT objid::int FROM pg_locks WHERE locktype = 'advisory' AND "
                 "database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND "
                 "classid = $1::int::oid AND objsubid = 2 AND granted");
  conn_->prepare("rc_leave", "DELETE FROM read_side_replicas WHERE replica_id = $1");
  prepare_status_statements(*conn_);
}

void Coordinator::stop_lost_fetchers() {
  stop_and_release([&](int p, const PartitionWorker& w, const std::map<int, std::uint64_t>& held) {
    auto h = held.find(p);
    return w.state() != PartitionWorker::State::Owned || h == held.end() || h->second != w.lease();
  });
}

std::string Coordinator::owned_text() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [p, w] : workers_) {
    if (!out.empty()) out += ",";
    out += std::to_string(p);
  }
  return out;
}

Coordinator::Heartbeat Coordinator::heartbeat(const std::string& owned) {
  Heartbeat seen;
  std::vector<ProjectionStatus> status;
  {
    pqxx::work tx(*conn_);
    tx.exec_prepared("rc_heartbeat", replica_id_, owned);
    seen.live = static_cast<int>(
        tx.exec_prepared1(
              "rc_live",
              static_cast<int>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(kReplicaTtl).count()))[0]
            .as<std::int64_t>());
    if (ctx_.peers != nullptr) ctx_.peers->live_replicas(seen.live);
    for (const auto& row : tx.exec_prepared("rc_held", kPartitionLockClass))
      seen.held.insert(row[0].as<int>());
    tx.exec_prepared("rc_gc");
    status = read_projection_status(tx);
    tx.commit();
  }
  refresh_lag_gauges(status);
  return seen;
}

void Coordinator::refresh_lag_gauges(const std::vector<ProjectionStatus>& status) {
  if (!status.empty()) ctx_.metrics.parked_events.set(static_cast<double>(status.front().parked));
  for (const auto& s : status) {
    if (s.name == "orders") {
      ctx_.metrics.lag_events_orders.set(static_cast<double>(s.lag_events));
      ctx_.metrics.lag_seconds_orders.set(s.lag_seconds);
    } else if (s.name == "customers") {
      ctx_.metrics.lag_events_customers.set(static_cast<double>(s.lag_events));
      ctx_.metrics.lag_seconds_customers.set(s.lag_seconds);
    }
  }
}

Coordinator::Plan Coordinator::plan_ownership(int target, const std::set<int>& held) const {
  Plan plan;
  std::lock_guard lock(mu_);
  int owned = static_cast<int>(workers_.size());
  // Release the excess, furthest from our preferred starting partition first.
  for (int k = codec::kPartitions - 1; k >= 0 && owned > target; --k) {
    const int p = (offset_ + k) % codec::kPartitions;
    if (!workers_.count(p)) continue;
    plan.excess.insert(p);
    --owned;
  }
  for (int k = 0; k < codec::kPartitions && owned < target; ++k) {
    const int p = (offset_ + k) % codec::kPartitions;
    if (held.count(p) || workers_.count(p)) continue;
    plan.wanted.push_back(p);
    ++owned;
  }
  return plan;
}

bool Coordinator::acquire(const std::vector<int>& wanted, std::stop_token stop) {
  for (int p : wanted) {
    if (stop.stop_requested()) return false;
    auto& applier = applier_for(p);
    const auto lease = applier.try_acquire(p);
    if (lease == 0) {
      if (!applier.reachable()) break;  // Postgres unreachable: try again next tick
      continue;                         // taken by another replica meanwhile
    }
    std::lock_guard lock(mu_);
    workers_.emplace(p, std::make_unique<PartitionWorker>(p, lease, ctx_, applier));
  }
  return true;
}

void Coordinator::stop_and_release(
    const std::function<bool(int, const PartitionWorker&, const std::map<int, std::uint64_t>&)>&
        which) {
  std::map<int, std::uint64_t> held;  // by every applier (each holds its own partitions)
  for (const auto& a : appliers_) held.merge(a->held());
  std::vector<std::unique_ptr<PartitionWorker>> stopping;
  {
    std::lock_guard lock(mu_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (which(it->first, *it->second, held)) {
        it->second->request_stop();
        stopping.push_back(std::move(it->second));
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& w : stopping) {
    const int p = w->partition();
    const auto lease = w->lease();
    w.reset();                         // joins (all were asked to stop at once)
    applier_for(p).release(p, lease);  // no-op when the lock is no longer held under this lease
  }
}

}  // namespace orders::read_side
