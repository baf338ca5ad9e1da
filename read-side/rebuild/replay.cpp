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

void FoldTotals::count(const codec::RecordedEvent& e) {
  const auto gp = e.global_position.value_or(0);
  auto& tally = partitions[static_cast<std::size_t>(codec::partition_of(e.stream_id))];
  if (gp > tally.last_global_position) {
    tally.last_global_position = gp;
    tally.last_recorded_at_us = e.recorded_at_us;
  }
  ++tally.events;
  ++events;
}

void FoldTotals::merge(const FoldTotals& other) {
  events += other.events;
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    auto& mine = partitions[i];
    const auto& theirs = other.partitions[i];
    if (theirs.last_global_position > mine.last_global_position) {
      mine.last_global_position = theirs.last_global_position;
      mine.last_recorded_at_us = theirs.last_recorded_at_us;
    }
    mine.events += theirs.events;
  }
  for (const auto& [id, p] : other.parked) parked[id] = p;
}

void OrderFolder::add(const codec::RecordedEvent& e) {
  if (!open_ || e.stream_id != current_id_) {
    close_current();
    current_id_ = e.stream_id;
    open_ = true;
  }
  const auto gp = e.global_position.value_or(0);
  if (parked_) {
    ++parked_->events;  // behind a parked event of its order
    return;
  }
  auto outcome = fold_event(view_, e);
  std::string error;
  if (const auto* err = std::get_if<FoldError>(&outcome)) {
    error = err->message;
  } else if (std::get<FoldOutcome>(outcome) == FoldOutcome::Gap) {
    error = "order " + e.stream_id + " version " + std::to_string(e.version) + " follows version " +
            std::to_string(view_.state.version) + " in the global log";
  }
  if (!error.empty()) {
    parked_ = ParkedOrder{gp, 1, std::move(error)};
    return;
  }
  // Applied, or Duplicate: the log holds each event once; an older version changes nothing.
  totals_.count(e);
}

void OrderFolder::close_current() {
  if (!open_) return;
  if (view_.state.exists()) {
    ready_bytes_ += approx_bytes(view_);
    ready_.push_back(std::move(view_));
  }
  if (parked_) totals_.parked[current_id_] = std::move(*parked_);
  view_ = OrderView{};
  parked_.reset();
  open_ = false;
}

void OrderFolder::finish() {
  close_current();
}

std::vector<OrderView> OrderFolder::take_ready() {
  std::vector<OrderView> out;
  out.swap(ready_);
  ready_bytes_ = 0;
  return out;
}

std::size_t approx_bytes(const OrderView& v) {
  const auto& st = v.state;
  std::size_t n =
      sizeof(OrderView) + st.order_id.size() + st.customer_id.size() + st.tracking_number.size();
  for (const auto& item : st.items) n += sizeof(item) + sizeof(LineStamp) + item.product_id.size();
  for (const auto& r : v.removed) n += sizeof(r) + r.product_id.size();
  return n;
}

std::vector<OrderRange> split_orders(pqxx::transaction_base& tx, int n) {
  if (n <= 1) return {OrderRange{}};
  std::string fractions = "{";
  for (int i = 1; i < n; ++i) {
    fractions += (i > 1 ? "," : "") + std::to_string(static_cast<double>(i) / n);
  }
  fractions += "}";
  // About 300 pages of the events table (all of a small one): enough for even ranges.
  auto r = tx.exec_prepared1("rb_split_orders", fractions);
  std::vector<OrderRange> out;
  std::string from;
  if (!r[0].is_null()) {
    const auto bounds =
        nlohmann::json::parse(r[0].as<std::string>()).get<std::vector<std::string>>();
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      if (bounds[i] <= from) continue;  // a duplicate bound (few orders): fewer ranges
      out.push_back({from, bounds[i]});
      from = bounds[i];
    }
  }
  out.push_back({from, ""});
  return out;
}

void prepare_order_statements(pqxx::connection& conn) {
  const std::string select = std::string("SELECT ") + kEventColumns +
                             " FROM all_events e JOIN global_log g ON g.position = e.position";
  conn.prepare("rb_order_page", select +
                                    " WHERE (e.stream_id, e.version) > ($1, $2)"
                                    " AND g.global_position <= $3"
                                    " ORDER BY e.stream_id, e.version LIMIT $4");
  conn.prepare("rb_order_page_to", select +
                                       " WHERE (e.stream_id, e.version) > ($1, $2)"
                                       " AND e.stream_id < $5 AND g.global_position <= $3"
                                       " ORDER BY e.stream_id, e.version LIMIT $4");
  conn.prepare("rb_orders_upto",
               select +
                   " WHERE e.stream_id = ANY (ARRAY(SELECT "
                   "jsonb_array_elements_text($1::jsonb)))"
                   " AND g.global_position <= $2 ORDER BY e.stream_id, e.version");
  conn.prepare(
      "rb_split_orders",
      "SELECT array_to_json(percentile_disc($1::float8[]) WITHIN GROUP (ORDER BY stream_id))::text"
      " FROM events"
      " TABLESAMPLE SYSTEM (least(100, 30000.0 / greatest(1, (SELECT sum(relpages)"
      " FROM pg_class WHERE oid = 'events'::regclass OR oid IN (SELECT inhrelid FROM"
      " pg_inherits WHERE inhparent = 'events'::regclass)))))");
}

std::vector<codec::RecordedEvent> read_order_page(pqxx::transaction_base& tx,
                                                  const OrderRange& range,
                                                  const std::string& after_id,
                                                  std::int64_t after_version, std::int64_t upto,
                                                  int limit, std::size_t* bytes) {
  auto rows =
      range.to.empty()
          ? tx.exec_prepared("rb_order_page", after_id, after_version, upto, limit)
          : tx.exec_prepared("rb_order_page_to", after_id, after_version, upto, limit, range.to);
  std::vector<codec::RecordedEvent> out;
  out.reserve(rows.size());
  *bytes = 0;
  for (const auto& row : rows) {
    for (const auto& field : row) *bytes += field.size();
    out.push_back(event_from_row(row));
  }
  return out;
}

std::vector<codec::RecordedEvent> read_orders(pqxx::transaction_base& tx,
                                              const std::vector<std::string>& ids,
                                              std::int64_t upto) {
  auto rows = tx.exec_prepared("rb_orders_upto", nlohmann::json(ids).dump(), upto);
  std::vector<codec::RecordedEvent> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(event_from_row(row));
  return out;
}

}  // namespace orders::read_side::rebuild
