#include "read-side/projector/applier.hpp"

#include <algorithm>

#include <pqxx/pqxx>

#include "common/log/logger.hpp"
#include "read-side/projector/poison.hpp"
#include "read-side/projector/view_store.hpp"
#include "read-side/read_your_writes/apply_publisher.hpp"

namespace orders::read_side {

namespace {
using Clock = std::chrono::steady_clock;
// Idle: make sure the lock-holding connection is still alive this often.
constexpr auto kPingEvery = std::chrono::seconds(2);
// The view cache holds up to 8192 views per projection and partition it may hold.
constexpr std::size_t kCachePerPartition = 8192;

bool connection_gone(const std::exception& e) {
  return dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
         dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr;
}
}  // namespace

GroupApplier::GroupApplier(ProjectorContext& ctx, int partitions)
    : ctx_(ctx),
      cache_(kCachePerPartition * static_cast<std::size_t>(std::max(partitions, 1))),
      last_used_(Clock::now()) {
  thread_ = std::thread([this] { run(); });
}

GroupApplier::~GroupApplier() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t GroupApplier::try_acquire(int partition) {
  Control c{Control::Kind::Acquire, partition};
  {
    std::lock_guard lock(mu_);
    if (stop_) return 0;
    controls_.push_back(&c);
  }
  cv_.notify_one();
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return c.done; });
  return c.lease;
}

void GroupApplier::release(int partition, std::uint64_t lease) {
  Control c{Control::Kind::Release, partition};
  c.lease = lease;
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    controls_.push_back(&c);
  }
  cv_.notify_one();
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return c.done; });
}

std::map<int, std::uint64_t> GroupApplier::held() const {
  std::lock_guard lock(mu_);
  return held_;
}

bool GroupApplier::reachable() const {
  std::lock_guard lock(mu_);
  return reachable_;
}

GroupApplier::Outcome GroupApplier::apply(int partition, std::uint64_t lease,
                                          std::vector<codec::RecordedEvent>& events) {
  Pending p;
  p.partition = partition;
  p.lease = lease;
  p.events = &events;
  {
    std::lock_guard lock(mu_);
    if (stop_) return Outcome::Lost;
    pending_.push_back(&p);
  }
  cv_.notify_one();
  std::unique_lock lock(mu_);
  p.cv.wait(lock, [&] { return p.done; });
  return p.outcome;
}

void GroupApplier::complete(Pending& p, Outcome o) {
  // Notified under the lock: the waiter (whose stack holds p) cannot return before.
  std::lock_guard lock(mu_);
  p.outcome = o;
  p.done = true;
  p.cv.notify_one();
}

void GroupApplier::run() {
  while (true) {
    std::vector<Control*> controls;
    std::vector<Pending*> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, last_used_ + kPingEvery,
                     [&] { return stop_ || !controls_.empty() || !pending_.empty(); });
      if (ctx_.group_delay.count() > 0 && !pending_.empty()) {
        cv_.wait_until(lock, last_group_ + ctx_.group_delay, [&] { return group_due(); });
      }
      controls.assign(controls_.begin(), controls_.end());
      controls_.clear();
      batch.swap(pending_);
      if (stop_ && controls.empty() && batch.empty()) break;
    }
    for (auto* c : controls) {
      handle(*c);
      {
        std::lock_guard lock(mu_);
        c->done = true;
      }
      done_cv_.notify_all();
    }
    if (!batch.empty()) {
      last_group_ = Clock::now();
      apply_pending(batch);
    } else if (controls.empty() && conn_ && Clock::now() - last_used_ >= kPingEvery) {
      try {
        pqxx::nontransaction n(*conn_);
        n.exec_prepared("rs_ping");
      } catch (const std::exception& e) {
        lose_connection(e.what());
      }
      last_used_ = Clock::now();
    } else if (!conn_) {
      last_used_ = Clock::now();
    }
  }
  conn_.reset();  // the locks go with it
  std::lock_guard lock(mu_);
  held_.clear();
}

bool GroupApplier::group_due() const {
  if (stop_ || !controls_.empty() || pending_.size() >= held_.size()) return true;
  return std::any_of(pending_.begin(), pending_.end(), [&](const Pending* p) {
    return p->events->size() >= static_cast<std::size_t>(ctx_.batch_size);
  });
}

void GroupApplier::connect() {
  auto conn = std::make_unique<pqxx::connection>(ctx_.database_url);
  // libpqxx 6.4 silently reconnects a broken connection, which would drop the partitions' advisory
  // locks while this applier keeps applying: never reactivate, give the partitions up instead.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  prepare_projector_statements(*conn);
  prepare_parked_statements(*conn);
  conn->prepare("rs_event_at", std::string("SELECT ") + kEventColumns + " FROM " + kEventFrom +
                                   " WHERE g.global_position = $1");
  conn->prepare("rs_try_lock", "SELECT pg_try_advisory_lock($1::int, $2::int)");
  conn->prepare("rs_unlock", "SELECT pg_advisory_unlock($1::int, $2::int)");
  conn->prepare("rs_ping", "SELECT 1");
  conn_ = std::move(conn);
  std::lock_guard lock(mu_);
  reachable_ = true;
}

void GroupApplier::lose_connection(const char* what) {
  std::vector<int> lost;
  {
    std::lock_guard lock(mu_);
    for (const auto& [p, lease] : held_) lost.push_back(p);
    held_.clear();
  }
  conn_.reset();
  cache_.clear();
  failures_.clear();
  ctx_.logger.warn("projector connection lost: every partition of this replica is lost",
                   {{"partitions", lost}, {"error", what}});
}

void GroupApplier::handle(Control& c) {
  last_used_ = Clock::now();
  const nlohmann::json fields = {{"partition", c.partition}};
  if (c.kind == Control::Kind::Acquire) {
    c.lease = 0;
    {
      std::lock_guard lock(mu_);
      if (held_.count(c.partition)) return;  // held already (the coordinator does not ask twice)
    }
    try {
      if (!conn_) connect();
      bool locked = false;
      {
        pqxx::nontransaction n(*conn_);
        locked = n.exec_prepared1("rs_try_lock", kPartitionLockClass, c.partition)[0].as<bool>();
        if (locked) parked_ = load_parked_orders(n);  // its last owner may have parked orders
      }
      if (!locked) return;
      failures_.erase(c.partition);
      cache_.clear();  // views cached before may have been changed by the partition's last owner
      std::lock_guard lock(mu_);
      c.lease = next_lease_++;
      held_[c.partition] = c.lease;
    } catch (const std::exception& e) {
      if (conn_ && connection_gone(e)) {
        lose_connection(e.what());
      } else if (!conn_) {
        {
          std::lock_guard lock(mu_);
          reachable_ = false;
        }
        ctx_.logger.warn("projector connection failed", {{"error", e.what()}});
      } else {
        ctx_.logger.warn("partition lock failed",
                         {{"partition", c.partition}, {"error", e.what()}});
      }
    }
    return;
  }
  {
    std::lock_guard lock(mu_);
    auto it = held_.find(c.partition);
    if (it == held_.end() || it->second != c.lease) return;
    held_.erase(it);
  }
  failures_.erase(c.partition);
  cache_.clear();  // the partition's next owner writes its rows
  try {
    pqxx::nontransaction n(*conn_);
    if (!n.exec_prepared1("rs_unlock", kPartitionLockClass, c.partition)[0].as<bool>()) {
      ctx_.logger.warn("partition lock was not held at release", fields);
    }
  } catch (const std::exception& e) {
    // Unsure whether the lock is still ours: drop the connection (and with it every lock).
    lose_connection(e.what());
  }
}

void GroupApplier::apply_pending(std::vector<Pending*>& batch) {
  const auto started = Clock::now();
  auto live = take_live(batch);
  if (live.empty()) return;
  if (!read_unreadable_events(live)) return;  // the connection is gone
  if (live.empty()) return;
  std::vector<Pending*> applied;
  std::vector<BatchStats> stats;
  if (!apply_live(live, applied, stats)) return;  // the connection is gone
  last_used_ = Clock::now();
  if (applied.empty()) return;
  publish_applied(applied, stats, started);
}

std::vector<GroupApplier::Pending*> GroupApplier::take_live(std::vector<Pending*>& batch) {
  std::vector<Pending*> live;
  std::lock_guard lock(mu_);
  for (auto* p : batch) {
    auto it = held_.find(p->partition);
    if (conn_ && it != held_.end() && it->second == p->lease) {
      live.push_back(p);
    } else {
      p->outcome = Outcome::Lost;  // the lock is not (or no longer) this fetcher's
      p->done = true;
      p->cv.notify_one();
    }
  }
  return live;
}

void GroupApplier::fail(Pending& p, const std::exception& e) {
  ctx_.metrics.failures.inc();
  ctx_.logger.error("apply failed, will retry",
                    {{"partition", p.partition},
                     {"error", e.what()},
                     {"first_position", p.events->front().global_position.value_or(0)}});
  complete(p, Outcome::Failed);
}

void GroupApplier::lose_all(const std::vector<Pending*>& left, const std::exception& e) {
  // The locks are gone with the connection; another replica may own the partitions now.
  // Redelivered events that did commit (in doubt) are skipped as duplicates.
  lose_connection(e.what());
  for (auto* p : left) complete(*p, Outcome::Lost);
}

bool GroupApplier::read_unreadable_events(std::vector<Pending*>& live) {
  for (auto it = live.begin(); it != live.end();) {
    try {
      for (auto& e : *(*it)->events) {
        if (!e.stream_id.empty()) continue;
        const auto position = e.global_position.value_or(0);
        pqxx::nontransaction n(*conn_);
        auto r = n.exec_prepared("rs_event_at", position);
        if (r.empty()) {
          throw ApplyError("bus message " + std::to_string(position) +
                           " is not an event and the event store has no such position");
        }
        e = event_from_row(r[0]);
        if (!e.global_position) e.global_position = position;
      }
      ++it;
    } catch (const std::exception& e) {
      if (connection_gone(e)) {
        lose_all(live, e);
        return false;
      }
      fail(**it, e);
      it = live.erase(it);
    }
  }
  return true;
}

void GroupApplier::apply_group_of(const std::vector<Pending*>& group,
                                  std::vector<Pending*>& applied, std::vector<BatchStats>& stats) {
  std::vector<PartitionBatch> refs;
  refs.reserve(group.size());
  for (auto* p : group) refs.push_back(PartitionBatch{p->partition, p->events});
  auto s = apply_group(*conn_, refs, &cache_, &parked_);
  for (std::size_t i = 0; i < group.size(); ++i) {
    applied.push_back(group[i]);
    stats.push_back(std::move(s[i]));
  }
}

bool GroupApplier::apply_live(std::vector<Pending*>& live, std::vector<Pending*>& applied,
                              std::vector<BatchStats>& stats) {
  try {
    apply_group_of(live, applied, stats);
  } catch (const std::exception& e) {
    if (connection_gone(e)) {
      lose_all(live, e);
      return false;
    }
    if (live.size() == 1) {
      if (!fail_or_park(*live.front(), e, applied, stats)) {
        lose_all(live, e);
        return false;
      }
      return true;
    }
    // Nothing of the group was committed: apply each partition on its own, so only the
    // failing one's batch is failed.
    ctx_.logger.debug("group apply failed, applying its partitions one by one",
                      {{"partitions", live.size()}, {"error", e.what()}});
    for (std::size_t i = 0; i < live.size(); ++i) {
      try {
        apply_group_of({live[i]}, applied, stats);
      } catch (const std::exception& e2) {
        if (connection_gone(e2)) {
          lose_all(std::vector<Pending*>(live.begin() + static_cast<std::ptrdiff_t>(i), live.end()),
                   e2);
          live.clear();
          break;
        }
        if (!fail_or_park(*live[i], e2, applied, stats)) {
          lose_all(std::vector<Pending*>(live.begin() + static_cast<std::ptrdiff_t>(i), live.end()),
                   e2);
          live.clear();
          break;
        }
      }
    }
  }
  return true;
}

bool GroupApplier::fail_or_park(Pending& p, const std::exception& e, std::vector<Pending*>& applied,
                                std::vector<BatchStats>& stats) {
  const int attempts = ++failures_[p.partition];
  if (ctx_.park_after <= 0 || attempts < ctx_.park_after || !is_poison(e)) {
    fail(p, e);
    return true;
  }
  try {
    const auto parked = park_poison(*conn_, p.partition, *p.events, &cache_, parked_, attempts);
    if (parked.empty()) {
      fail(p, e);
      return true;
    }
    for (const auto& pe : parked) {
      ctx_.metrics.parked_total.inc();
      ctx_.logger.warn("event parked: its order waits for `read-side unpark`",
                       {{"partition", p.partition},
                        {"order_id", pe.order_id},
                        {"global_position", pe.global_position},
                        {"event_id", pe.event_id},
                        {"attempts", pe.attempts},
                        {"error", pe.error}});
    }
    apply_group_of({&p}, applied, stats);  // the rest; the parked orders' events held
    failures_.erase(p.partition);
  } catch (const std::exception& e2) {
    if (connection_gone(e2)) return false;
    fail(p, e2);
  }
  return true;
}

// One debug line per event of a committed batch (duplicates included: they are committed as
// skipped), with the trace id the write-side recorded; at info a line per event would cost the
// projector throughput.
void GroupApplier::log_applied(int partition, const std::vector<codec::RecordedEvent>& events) {
  for (const auto& e : events) {
    const auto trace = e.metadata.find("trace_id");
    ctx_.logger.debug("event applied", {{"partition", partition},
                                        {"order_id", e.stream_id},
                                        {"version", e.version},
                                        {"event_id", e.event_id},
                                        {"global_position", e.global_position.value_or(0)},
                                        {"trace_id", trace != e.metadata.end() && trace->is_string()
                                                         ? trace->get<std::string>()
                                                         : std::string()}});
  }
}

void GroupApplier::publish_applied(const std::vector<Pending*>& applied,
                                   std::vector<BatchStats>& stats, Clock::time_point started) {
  // Committed: each order is at least at its highest version in its batch (duplicates were
  // applied before, gaps were filled). Wake only those orders' waiters, here and elsewhere.
  std::vector<AppliedVersion> committed;
  std::size_t events = 0;
  for (std::size_t i = 0; i < applied.size(); ++i) {
    failures_.erase(applied[i]->partition);
    const auto& po = stats[i].by_projection["orders"];
    const auto& pc = stats[i].by_projection["customers"];
    ctx_.metrics.applied_orders.inc(static_cast<double>(po.applied));
    ctx_.metrics.applied_customers.inc(static_cast<double>(pc.applied));
    ctx_.metrics.duplicates.inc(static_cast<double>(po.duplicates));
    ctx_.metrics.gap_filled.inc(static_cast<double>(po.gap_filled));
    if (po.gap_filled > 0 || pc.gap_filled > 0) {
      ctx_.logger.info("gap filled from the event store", {{"partition", applied[i]->partition},
                                                           {"orders", po.gap_filled},
                                                           {"customers", pc.gap_filled}});
    }
    events += applied[i]->events->size();
    for (const auto& e : *applied[i]->events)
      committed.push_back(AppliedVersion{e.stream_id, e.version});
    if (ctx_.logger.enabled(log::Level::Debug))
      log_applied(applied[i]->partition, *applied[i]->events);
    observe_event_ages(ctx_.metrics.event_age_applied, *applied[i]->events);
  }
  ctx_.waiters.applied(committed);
  if (ctx_.publisher) ctx_.publisher->request(committed);
  for (auto* p : applied) complete(*p, Outcome::Applied);
  ctx_.metrics.batch_seconds.observe(std::chrono::duration<double>(Clock::now() - started).count());
  ctx_.metrics.batch_size.observe(static_cast<double>(events));
}

}  // namespace orders::read_side
