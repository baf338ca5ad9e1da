#include "rebuild/replay.hpp"

#include "projection/store.hpp"

namespace orders::read_side::rebuild {

void prepare_replay_statements(pqxx::connection& conn) {
  conn.prepare("rb_head", "SELECT coalesce(max(global_position), 0) FROM global_log");
  conn.prepare("rb_page", std::string("SELECT ") + kEventColumns +
                              " FROM global_log g JOIN events e ON e.position = g.position"
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
                               std::int64_t upto, int page_size, std::size_t depth)
    : depth_(depth) {
  thread_ = std::thread([this, database_url, after, upto, page_size] {
    try {
      run(database_url, after, upto, page_size);
    } catch (...) {
      std::lock_guard lock(mu_);
      error_ = std::current_exception();
    }
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
  });
}

PagePrefetcher::~PagePrefetcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PagePrefetcher::run(std::string url, std::int64_t after, std::int64_t upto, int page_size) {
  pqxx::connection conn(url);
  prepare_replay_statements(conn);
  while (after < upto) {
    std::vector<codec::RecordedEvent> page;
    {
      pqxx::read_transaction tx(conn);
      page = read_page(tx, after, upto, page_size);
    }
    if (page.empty()) {
      throw RebuildError("the global log has no event after position " + std::to_string(after) +
                         " although its head is " + std::to_string(upto));
    }
    after = *page.back().global_position;
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stop_ || pages_.size() < depth_; });
    if (stop_) return;
    pages_.push_back(std::move(page));
    lock.unlock();
    cv_.notify_all();
  }
}

std::optional<std::vector<codec::RecordedEvent>> PagePrefetcher::next() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !pages_.empty() || done_; });
  if (!pages_.empty()) {
    auto page = std::move(pages_.front());
    pages_.pop_front();
    lock.unlock();
    cv_.notify_all();
    return page;
  }
  if (error_) std::rethrow_exception(error_);
  return std::nullopt;
}

void ReplayState::apply(const std::vector<codec::RecordedEvent>& events) {
  for (const auto& e : events) {
    const auto gp = e.global_position.value_or(0);
    if (gp <= last_global_position_) continue;  // already folded (a re-read tail)
    auto& view = views_[e.stream_id];
    auto outcome = fold_event(view, e);
    if (const auto* err = std::get_if<FoldError>(&outcome)) {
      throw RebuildError("global position " + std::to_string(gp) + ": " + err->message);
    }
    switch (std::get<FoldOutcome>(outcome)) {
      case FoldOutcome::Applied:
        if (track_changes_) changed_.insert(e.stream_id);
        break;
      case FoldOutcome::Duplicate:
        break;  // the log holds each event once; an older version here changes nothing
      case FoldOutcome::Gap:
        throw RebuildError("global position " + std::to_string(gp) + ": order " + e.stream_id +
                           " version " + std::to_string(e.version) + " follows version " +
                           std::to_string(view.state.version) + " in the global log");
    }
    auto& tally = partitions_[static_cast<std::size_t>(codec::partition_of(e.stream_id))];
    tally.last_global_position = gp;
    tally.last_recorded_at_us = e.recorded_at_us;
    ++tally.events;
    last_global_position_ = gp;
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
