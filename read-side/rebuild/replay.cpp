#include "read-side/rebuild/replay.hpp"

#include <algorithm>

#include "read-side/projector/view_store.hpp"

namespace orders::read_side::rebuild {

void prepare_replay_statements(pqxx::connection& conn) {
  conn.prepare("rb_head", "SELECT coalesce(max(global_position), 0) FROM global_log");
  conn.prepare("rb_page", std::string("SELECT ") + kEventColumns +
                              " FROM global_log g JOIN all_events e ON e.position = g.position"
                              " WHERE g.global_position > $1 AND g.global_position <= $2"
                              " ORDER BY g.global_position LIMIT $3");
}

std::int64_t read_head(pqxx::transaction_base& tx) {
  return tx.exec_prepared1("rb_head")[0].as<std::int64_t>();
}

std::vector<codec::RecordedEvent> read_page(pqxx::transaction_base& tx, std::int64_t after,
                                            std::int64_t upto, int limit) {
  std::vector<codec::RecordedEvent> out;
  auto rows = tx.exec_prepared("rb_page", after, upto, limit);
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(event_from_row(row));
  return out;
}

PagePrefetcher::PagePrefetcher(const std::string& database_url, std::int64_t after,
                               std::int64_t upto, int page_size, int readers, std::size_t depth)
    : after_(after),
      upto_(upto),
      page_size_(page_size),
      depth_(depth),
      lanes_(static_cast<std::size_t>(std::max(1, readers))) {
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    threads_.emplace_back([this, i, database_url] {
      try {
        run(i, database_url);
      } catch (...) {
        std::lock_guard lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
      {
        std::lock_guard lock(mu_);
        lanes_[i].done = true;
      }
      cv_.notify_all();
    });
  }
}

PagePrefetcher::~PagePrefetcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void PagePrefetcher::run(std::size_t lane, std::string url) {
  pqxx::connection conn(url);
  // Pages are ranges of the global_log primary key: an index nested loop into events is the
  // right plan, but for pages of thousands of rows the planner prefers a (parallel) hash join
  // that scans the whole events table for every page (measured 7x slower at 1M events).
  conn.set_variable("enable_hashjoin", "off");
  conn.set_variable("enable_mergejoin", "off");
  conn.set_variable("max_parallel_workers_per_gather", "0");
  prepare_replay_statements(conn);
  const auto stride = static_cast<std::int64_t>(lanes_.size()) * page_size_;
  for (std::int64_t from = after_ + static_cast<std::int64_t>(lane) * page_size_; from < upto_;
       from += stride) {
    const auto to = std::min(upto_, from + page_size_);
    std::vector<codec::RecordedEvent> page;
    {
      pqxx::read_transaction tx(conn);
      page = read_page(tx, from, to, page_size_);
    }
    if (static_cast<std::int64_t>(page.size()) != to - from) {
      throw RebuildError("the global log has " + std::to_string(page.size()) +
                         " events at positions " + std::to_string(from + 1) + ".." +
                         std::to_string(to) + ", expected " + std::to_string(to - from) +
                         " (it should be dense)");
    }
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stop_ || error_ || lanes_[lane].pages.size() < depth_; });
    if (stop_ || error_) return;
    lanes_[lane].pages.push_back(std::move(page));
    lock.unlock();
    cv_.notify_all();
  }
}

std::optional<std::vector<codec::RecordedEvent>> PagePrefetcher::next() {
  std::unique_lock lock(mu_);
  auto& lane = lanes_[next_lane_];
  cv_.wait(lock, [&] { return !lane.pages.empty() || lane.done || error_; });
  if (error_) std::rethrow_exception(error_);
  if (lane.pages.empty()) return std::nullopt;  // this lane is done: pages are exhausted
  auto page = std::move(lane.pages.front());
  lane.pages.pop_front();
  next_lane_ = (next_lane_ + 1) % lanes_.size();
  lock.unlock();
  cv_.notify_all();
  return page;
}

void ReplayState::apply(const std::vector<codec::RecordedEvent>& events) {
  for (const auto& e : events) {
    const auto gp = e.global_position.value_or(0);
    if (gp <= last_global_position_) continue;  // already folded (a re-read tail)
    last_global_position_ = gp;
    if (auto p = parked_.find(e.stream_id); p != parked_.end()) {
      ++p->second.events;  // behind a parked event of its order
      continue;
    }
    auto& view = views_[e.stream_id];
    auto outcome = fold_event(view, e);
    std::string error;
    if (const auto* err = std::get_if<FoldError>(&outcome)) {
      error = err->message;
    } else if (std::get<FoldOutcome>(outcome) == FoldOutcome::Gap) {
      error = "order " + e.stream_id + " version " + std::to_string(e.version) +
              " follows version " + std::to_string(view.state.version) + " in the global log";
    }
    if (!error.empty()) {
      parked_[e.stream_id] = ParkedOrder{gp, 1, std::move(error)};
      if (!view.state.exists()) views_.erase(e.stream_id);  // nothing of it folded: no row
      continue;
    }
    // Applied, or Duplicate: the log holds each event once; an older version changes nothing.
    if (std::get<FoldOutcome>(outcome) == FoldOutcome::Applied && track_changes_) {
      changed_.insert(e.stream_id);
    }
    auto& tally = partitions_[static_cast<std::size_t>(codec::partition_of(e.stream_id))];
    tally.last_global_position = gp;
    tally.last_recorded_at_us = e.recorded_at_us;
    ++tally.events;
    ++events_;
  }
}

std::vector<const OrderView*> ReplayState::take_changed() {
  std::vector<const OrderView*> out;
  out.reserve(changed_.size());
  for (const auto& id : changed_) out.push_back(&views_.at(id));
  changed_.clear();
  return out;
}

}  // namespace orders::read_side::rebuild
