// Replaying the event store in global order (global_log JOIN events, keyset pages) and folding it
// in memory into one OrderView per order with the fold the live projector uses (fold_event).
#pragma once
#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <pqxx/pqxx>

#include "common/codec/recorded_event.hpp"
#include "read-side/view/order_view.hpp"

namespace orders::read_side::rebuild {

struct RebuildError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Prepares "rb_head" and "rb_page" on conn.
void prepare_replay_statements(pqxx::connection& conn);
// Highest sequenced global position (0 when the log is empty).
std::int64_t read_head(pqxx::transaction_base& tx);
// Events with global position in (after, upto], ascending, at most limit.
std::vector<codec::RecordedEvent> read_page(pqxx::transaction_base& tx, std::int64_t after,
                                            std::int64_t upto, int limit);

// Reads (after, upto] in pages of page_size global positions, on `readers` connections and
// threads at once (page k by reader k % readers: the Postgres side of the replay runs on several
// cores), a few pages ahead of the consumer, which gets them in order. Each page is its own
// read-only transaction: no xid, and no snapshot held for the whole replay (vacuum keeps up).
class PagePrefetcher {
 public:
  PagePrefetcher(const std::string& database_url, std::int64_t after, std::int64_t upto,
                 int page_size, int readers = 2, std::size_t depth = 2);
  ~PagePrefetcher();  // stops the readers and joins
  PagePrefetcher(const PagePrefetcher&) = delete;
  PagePrefetcher& operator=(const PagePrefetcher&) = delete;

  // The next page in global order; nullopt at the end. Rethrows a reader's error.
  std::optional<std::vector<codec::RecordedEvent>> next();

 private:
  struct Lane {
    std::deque<std::vector<codec::RecordedEvent>> pages;
    bool done = false;
  };
  void run(std::size_t lane, std::string url);
  std::int64_t after_;
  std::int64_t upto_;
  int page_size_;
  std::size_t depth_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Lane> lanes_;
  std::size_t next_lane_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

// Per bus partition (codec::partition_of): what the rebuilt projection has applied, written to
// projection_checkpoints at the swap so /projections lag stays exact.
struct PartitionTally {
  std::int64_t last_global_position = 0;
  std::int64_t last_recorded_at_us = 0;
  std::int64_t events = 0;
};

// An order the replay could not fold to its end, as the live projector parks it: its view stops
// before the first event that does not fold, that event and every later one are skipped.
struct ParkedOrder {
  std::int64_t first_position = 0;  // global position of the event that does not fold
  std::int64_t events = 0;          // events skipped (that one and the later ones)
  std::string error;
};

// The in-memory fold of the whole log.
class ReplayState {
 public:
  // Folds events that follow last_global_position() in global order. An event that does not
  // decode, an order that does not start with OrderCreated, or a version gap parks its order
  // (parked()): reported, not a failure; the rest of the log is folded.
  void apply(const std::vector<codec::RecordedEvent>& events);
  const std::map<std::string, ParkedOrder>& parked() const { return parked_; }

  // Changed views are remembered from now on (after the bulk load), for upserts.
  void track_changes(bool on) { track_changes_ = on; }
  std::vector<const OrderView*> take_changed();

  const std::unordered_map<std::string, OrderView>& views() const { return views_; }
  std::int64_t last_global_position() const { return last_global_position_; }
  std::int64_t events() const { return events_; }
  const std::vector<PartitionTally>& partitions() const { return partitions_; }

 private:
  std::unordered_map<std::string, OrderView> views_;
  std::unordered_set<std::string> changed_;
  std::map<std::string, ParkedOrder> parked_;
  bool track_changes_ = false;
  std::int64_t last_global_position_ = 0;
  std::int64_t events_ = 0;
  std::vector<PartitionTally> partitions_ = std::vector<PartitionTally>(codec::kPartitions);
};

}  // namespace orders::read_side::rebuild
