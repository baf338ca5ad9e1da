// Reading the event store for a rebuild: in global order (global_log JOIN events, keyset pages:
// the tail), and order by order ((stream_id, version) keyset pages: the bulk fold, whose memory
// stays bounded whatever the store's size), folded with the live projector's fold_event.
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

// What a fold applied, per bus partition, and the orders it parked; merged across workers.
struct FoldTotals {
  std::int64_t events = 0;  // events applied (parked ones not counted)
  std::vector<PartitionTally> partitions = std::vector<PartitionTally>(codec::kPartitions);
  std::map<std::string, ParkedOrder> parked;
  // Counts an applied event in its partition (tallies keep the highest global position).
  void count(const codec::RecordedEvent& e);
  void merge(const FoldTotals& other);
};

// Folds events sorted by order, then version (each order's events together, orders in any
// order), one order at a time: memory holds the order being folded and the finished views not
// yet taken, never the whole store. An event that does not decode, an order that does not start
// with OrderCreated, or a version gap parks its order (totals().parked; the live projector parks
// the same events): its view stops before that event, and has no row if nothing folded.
class OrderFolder {
 public:
  void add(const codec::RecordedEvent& e);
  void finish();  // ends the last order (call at the end of the input)
  // The finished views that have a row, handed over to the caller.
  std::vector<OrderView> take_ready();
  std::size_t ready_count() const { return ready_.size(); }
  std::size_t ready_bytes() const { return ready_bytes_; }  // about, in memory
  const FoldTotals& totals() const { return totals_; }

 private:
  void close_current();
  std::string current_id_;
  bool open_ = false;
  OrderView view_;
  std::optional<ParkedOrder> parked_;
  std::vector<OrderView> ready_;
  std::size_t ready_bytes_ = 0;
  FoldTotals totals_;
};

// About the memory a view takes (for chunks bounded in bytes as well as rows).
std::size_t approx_bytes(const OrderView& v);

// Orders by id in [from, to) ("" to: no upper bound): the unit a fold worker streams.
struct OrderRange {
  std::string from;
  std::string to;
};
// Splits the order ids of the store into about n ranges of similar event counts (from a sample
// of the events table); one range when the store is small.
std::vector<OrderRange> split_orders(pqxx::transaction_base& tx, int n);

// Prepares "rb_order_page", "rb_order_page_to" and "rb_orders_upto" on conn.
void prepare_order_statements(pqxx::connection& conn);
// Up to limit events of orders in the range after (after_id, after_version), in (order id,
// version) order, with global position <= upto (sequenced events only). *bytes: their size
// as read (text).
std::vector<codec::RecordedEvent> read_order_page(pqxx::transaction_base& tx,
                                                  const OrderRange& range,
                                                  const std::string& after_id,
                                                  std::int64_t after_version, std::int64_t upto,
                                                  int limit, std::size_t* bytes);
// Every event of these orders with global position <= upto, in (order id, version) order.
std::vector<codec::RecordedEvent> read_orders(pqxx::transaction_base& tx,
                                              const std::vector<std::string>& ids,
                                              std::int64_t upto);

}  // namespace orders::read_side::rebuild
