// Applies one batch of bus events (one partition, stream order; or a group of such batches of
// several partitions, see apply_group) to every live projection with
// at most two statements and no explicit transaction: one read (the stored views of the touched
// orders the cache does not hold, both tables, primary-key lookups, and the tables' oids; not
// sent when the cache holds every order or the order's first event in the batch is its
// creation), the fold in memory (duplicates skipped, gaps filled from the event store first),
// then ONE write statement that is its own transaction (sql/functions/rs_apply_group.sql: cutover
// lock shared, tables still the ones read, UPDATE guarded by the loaded version + INSERT of new
// rows for every projection, every projection's checkpoint advanced). The transaction id is held
// only while that statement runs. (Waking waiters is the caller's business: no NOTIFY here, see
// pg::NotifyBroadcaster.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <pqxx/pqxx>

#include "common/codec/recorded_event.hpp"
#include "read-side/projector/parked_store.hpp"
#include "read-side/view/order_view.hpp"

namespace orders::read_side {

struct ApplyError : std::runtime_error {  // a poison event: does not decode, or missing history
  using std::runtime_error::runtime_error;
};

struct StaleReadModel : std::runtime_error {  // a stored row changed under the batch: retry it
  using std::runtime_error::runtime_error;
};

struct ProjectionApplyStats {
  std::int64_t applied = 0;     // events applied (including gap fills)
  std::int64_t duplicates = 0;  // skipped: already applied
  std::int64_t gap_filled = 0;  // events read from the event store to close a gap
};

struct BatchStats {
  std::map<std::string, ProjectionApplyStats> by_projection;
  std::int64_t last_global_position = 0;
  std::int64_t parked = 0;  // events held behind a parked order (stored in parked_events)
};

// The stored views of a partition's recently applied orders, per projection, exactly as the last
// committed batch left them, so a batch loads only the orders it has not seen. Owned by the
// replica's applier while it holds the partitions (the only writer of those rows); bounded (the
// least recently used order goes first). A safety net, not a trust: every write is still
// guarded by the version the view was taken at, and a guard that fails empties the cache. It is
// also emptied when a table was swapped (rebuild-projection) since the last batch.
class ViewCache {
 public:
  explicit ViewCache(std::size_t capacity_per_projection = 8192)
      : capacity_(capacity_per_projection) {}
  // The order's cached view (most recently used now), or null. A group folds it in place (no
  // copy per event) and evicts it again when it does not commit.
  OrderView* find(std::size_t projection, const std::string& order_id);
  void erase(std::size_t projection, const std::string& order_id);
  void put(std::size_t projection, OrderView view);
  void clear();  // the views and the tables' oids
  std::size_t size(std::size_t projection) const;
  // Tables' identities (oids) the cached views were read from; a change empties the cache.
  void check_tables(const std::vector<std::int64_t>& table_oids);
  const std::vector<std::int64_t>& table_oids() const { return table_oids_; }

 private:
  struct Entry {
    OrderView view;
    std::list<const std::string*>::iterator pos;  // in recency
  };
  struct Slot {
    std::unordered_map<std::string, Entry> views;
    std::list<const std::string*> recency;  // the views' keys, most recent first
  };
  std::size_t capacity_;
  std::vector<Slot> slots_;
  std::vector<std::int64_t> table_oids_;
};

// One partition's batch of a group apply (events in stream order).
struct PartitionBatch {
  int partition = 0;
  const std::vector<codec::RecordedEvent>* events = nullptr;
};

// Applies the batches of several partitions (each partition at most once) together: ONE read
// statement for the views not cached, the fold, ONE write statement
// (sql/functions/rs_apply_group.sql) = one transaction advancing every batch's checkpoints. All or
// nothing: on any throw nothing is committed. Returns the stats of each batch, in `batches` order.
// Otherwise as apply_batch. With `parked`: the events of those orders (newer than their views) are
// not folded but parked behind them (rs_park_events, committed before the write; the checkpoint
// still moves past them); an order found unparked meanwhile leaves the set and the group is folded
// again.
std::vector<BatchStats> apply_group(pqxx::connection& conn,
                                    const std::vector<PartitionBatch>& batches,
                                    ViewCache* cache = nullptr, ParkedOrders* parked = nullptr);

// Folds one event into a view, filling a gap from the event store first (never skipping one).
// Throws ApplyError when the event (or the history) does not fold.
void apply_event(pqxx::transaction_base& tx, OrderView& view, const codec::RecordedEvent& e,
                 ProjectionApplyStats& stats);

// Every event must carry global_position (the stream sequence). Throws ApplyError,
// StaleReadModel or pqxx errors; nothing is committed then. The connection must have
// prepare_projector_statements() applied and not be in a transaction. With a cache, views found
// there are not loaded, and the views the batch committed are put there. An order whose first
// event in the batch is version 1 is written as new without a read; if it exists after all
// (a redelivery), the write fails as a whole and the batch is retried at once with reads. A
// table swapped in since the views were read is read again (retried at once). StaleReadModel:
// a row read or cached moved under the batch (cache emptied; the caller retries).
BatchStats apply_batch(pqxx::connection& conn, int partition,
                       const std::vector<codec::RecordedEvent>& events, ViewCache* cache = nullptr);

}  // namespace orders::read_side
