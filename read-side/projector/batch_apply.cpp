#include "read-side/projector/batch_apply.hpp"

#include <deque>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "read-side/projector/locks.hpp"
#include "read-side/projector/view_store.hpp"
#include "read-side/view/order_view.hpp"

namespace orders::read_side {

void apply_event(pqxx::transaction_base& tx, OrderView& view, const codec::RecordedEvent& e,
                 ProjectionApplyStats& stats) {
  auto outcome = fold_event(view, e);
  if (auto* err = std::get_if<FoldError>(&outcome)) throw ApplyError(err->message);
  switch (std::get<FoldOutcome>(outcome)) {
    case FoldOutcome::Applied:
      ++stats.applied;
      return;
    case FoldOutcome::Duplicate:
      ++stats.duplicates;
      return;
    case FoldOutcome::Gap:
      break;
  }
  // Never skip a gap: the missing versions come from the event store, the source of truth.
  const auto missing_from = view.state.version + 1;
  auto history = load_stream_events(tx, e.stream_id, missing_from, e.version - 1);
  if (static_cast<std::int64_t>(history.size()) != e.version - missing_from) {
    throw ApplyError("order " + e.stream_id + ": versions " + std::to_string(missing_from) + ".." +
                     std::to_string(e.version - 1) + " are missing from the event store");
  }
  for (const auto& h : history) {
    auto r = fold_event(view, h);
    if (auto* err = std::get_if<FoldError>(&r)) throw ApplyError(err->message);
    if (std::get<FoldOutcome>(r) != FoldOutcome::Applied) {
      throw ApplyError("order " + e.stream_id + ": gap fill out of order");
    }
    ++stats.applied;
    ++stats.gap_filled;
  }
  auto last = fold_event(view, e);
  if (auto* err = std::get_if<FoldError>(&last)) throw ApplyError(err->message);
  ++stats.applied;
}

OrderView* ViewCache::find(std::size_t projection, const std::string& order_id) {
  if (projection >= slots_.size()) return nullptr;
  auto& slot = slots_[projection];
  auto it = slot.views.find(order_id);
  if (it == slot.views.end()) return nullptr;
  slot.recency.splice(slot.recency.begin(), slot.recency, it->second.pos);
  return &it->second.view;
}

void ViewCache::erase(std::size_t projection, const std::string& order_id) {
  if (projection >= slots_.size()) return;
  auto& slot = slots_[projection];
  auto it = slot.views.find(order_id);
  if (it == slot.views.end()) return;
  slot.recency.erase(it->second.pos);
  slot.views.erase(it);
}

void ViewCache::put(std::size_t projection, OrderView view) {
  if (capacity_ == 0) return;
  if (projection >= slots_.size()) slots_.resize(projection + 1);
  auto& slot = slots_[projection];
  if (slot.views.empty()) slot.views.reserve(capacity_);  // no rehashing as it fills
  if (auto it = slot.views.find(view.state.order_id); it != slot.views.end()) {
    it->second.view = std::move(view);
    slot.recency.splice(slot.recency.begin(), slot.recency, it->second.pos);
    return;
  }
  if (slot.views.size() >= capacity_) {
    slot.views.erase(slot.views.find(*slot.recency.back()));
    slot.recency.pop_back();
  }
  std::string id = view.state.order_id;
  auto [it, inserted] = slot.views.try_emplace(std::move(id), Entry{std::move(view), {}});
  slot.recency.push_front(&it->first);
  it->second.pos = slot.recency.begin();
}

void ViewCache::clear() {
  slots_.clear();
  table_oids_.clear();
}

std::size_t ViewCache::size(std::size_t projection) const {
  return projection < slots_.size() ? slots_[projection].views.size() : 0;
}

void ViewCache::check_tables(const std::vector<std::int64_t>& table_oids) {
  if (table_oids != table_oids_) {
    clear();
    table_oids_ = table_oids;
  }
}

namespace {

enum class Attempt { Done, Retry, Stale };

// A batch of the group with what the fold needs beside its events.
struct GroupItem {
  int partition = 0;
  const std::vector<codec::RecordedEvent>* events = nullptr;
  CheckpointAdvance advance;
};

std::string describe(const std::vector<GroupItem>& items) {
  std::string out = items.size() == 1 ? "partition " : "partitions ";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(items[i].partition);
  }
  return out;
}

// Per projection and order: the view being folded (a cached view is folded in place: the caller
// empties the cache when the group does not commit), its stored version and whether the group
// changed it. One hash lookup per event: a catch-up group holds tens of thousands.
struct FoldSlot {
  OrderView* view = nullptr;
  std::int64_t stored = 0;  // version of the stored row as loaded (0: none)
  bool dirty = false;
  bool from_cache = false;
};

// One attempt's working state, per projection (index as in projections()).
struct GroupFold {
  explicit GroupFold(std::size_t np) : slots(np), fresh(np), missing(np), writes(np) {}
  std::vector<std::unordered_map<std::string_view, FoldSlot>> slots;
  std::vector<std::deque<OrderView>> fresh;       // views not from the cache (stable addresses)
  std::vector<std::vector<std::string>> missing;  // orders whose stored view must be read
  bool any_missing = false;
  std::vector<std::vector<ViewWrite>> writes;
  std::vector<CheckpointRow> checkpoints;
  std::vector<ParkedEvent> held;  // events of parked orders, to park behind them
};

bool is_parked(const ParkedOrders* parked, const std::string& order_id) {
  return parked != nullptr && !parked->empty() && parked->count(order_id) > 0;
}

ParkedEvent held_event(const codec::RecordedEvent& e) {
  ParkedEvent p;
  p.order_id = e.stream_id;
  p.global_position = e.global_position.value_or(0);
  p.event_id = e.event_id;
  p.type = e.type;
  p.version = e.version;
  p.error = "held behind an earlier parked event of order " + e.stream_id;
  p.held = true;
  return p;
}

// Takes the views the cache holds; the others must be read, except (assume_new) those of orders
// created in this group, which have no stored row (the write checks it); a parked order is always
// read (its held events are those newer than its stored view).
void take_cached_views(GroupFold& fold, const std::vector<std::string>& ids,
                       const std::unordered_map<std::string, std::int64_t>& first_version,
                       ViewCache* cache, const ParkedOrders* parked, bool assume_new,
                       bool& assumed_any) {
  for (std::size_t pi = 0; pi < fold.slots.size(); ++pi) {
    fold.slots[pi].reserve(ids.size());
    for (const auto& id : ids) {
      OrderView* hit = cache != nullptr ? cache->find(pi, id) : nullptr;
      if (hit != nullptr) {
        fold.slots[pi].emplace(id, FoldSlot{hit, hit->state.version, false, true});
      } else if (assume_new && first_version.at(id) == 1 && !is_parked(parked, id)) {
        assumed_any = true;  // created in this batch: no stored row (the write checks it)
      } else {
        fold.missing[pi].push_back(id);
        fold.any_missing = true;
      }
    }
  }
}

// Reads the missing views (and the tables' oids: a fresh cache reads once to learn which tables
// its views come from). False when the tables were swapped by rebuild-projection since the cached
// views were read (they are another table's: retry).
bool load_missing_views(pqxx::transaction_base& tx, GroupFold& fold, ViewCache* cache,
                        std::vector<std::int64_t>& table_oids) {
  if (!fold.any_missing && !(cache != nullptr && table_oids.empty())) return true;
  auto loaded = load_batch_views(tx, fold.missing);
  if (cache != nullptr && !cache->table_oids().empty() &&
      loaded.table_oids != cache->table_oids()) {
    return false;
  }
  if (cache != nullptr) cache->check_tables(loaded.table_oids);
  table_oids = loaded.table_oids;
  for (std::size_t pi = 0; pi < fold.slots.size(); ++pi) {
    for (const auto& id : fold.missing[pi]) {
      auto it = loaded.by_projection[pi].find(id);
      if (it == loaded.by_projection[pi].end()) continue;
      auto& v = fold.fresh[pi].emplace_back(std::move(it->second));
      fold.slots[pi].emplace(id, FoldSlot{&v, v.state.version, false});
    }
  }
  return true;
}

// Folds every batch's events into every projection's views, then lists the changed views (in
// the group's order of first appearance) and each batch's checkpoint advance.
// Events of parked orders are held (projection 0 lists them; a version the view has is a
// duplicate).
void fold_events(pqxx::transaction_base& tx, GroupFold& fold, const std::vector<GroupItem>& items,
                 const std::vector<std::string>& ids, const ParkedOrders* parked,
                 std::vector<BatchStats>& stats) {
  for (std::size_t pi = 0; pi < fold.slots.size(); ++pi) {
    const auto& p = projections()[pi];
    auto& pslots = fold.slots[pi];
    for (std::size_t bi = 0; bi < items.size(); ++bi) {
      auto& pstats = stats[bi].by_projection[p.name];
      pstats = ProjectionApplyStats{};
      if (pi == 0) stats[bi].parked = 0;
      for (const auto& e : *items[bi].events) {
        auto [it, created] = pslots.try_emplace(e.stream_id);
        if (created) it->second.view = &fold.fresh[pi].emplace_back();  // no stored row
        if (is_parked(parked, e.stream_id)) {
          if (e.version <= it->second.view->state.version) {
            ++pstats.duplicates;
          } else if (pi == 0) {
            fold.held.push_back(held_event(e));
            ++stats[bi].parked;
          }
          continue;
        }
        const auto before = pstats.applied;
        apply_event(tx, *it->second.view, e, pstats);
        if (pstats.applied != before) it->second.dirty = true;
      }
      CheckpointAdvance a = items[bi].advance;
      a.events_applied = pstats.applied;
      fold.checkpoints.push_back(CheckpointRow{p.name, items[bi].partition, a});
    }
    fold.writes[pi].reserve(pslots.size());
    for (const auto& id : ids) {  // the group's order of first appearance
      auto it = pslots.find(id);
      if (it == pslots.end() || !it->second.dirty) continue;
      fold.writes[pi].push_back(ViewWrite{it->second.view, it->second.stored});
    }
  }
}

// Cached views are folded in place: when the group does not commit, they go (Stale and Retry
// empty the whole cache in apply_group; an exception in the fold, e.g. a poison event, evicts
// this group's views only, so the other partitions keep theirs).
void evict_cached_views(const GroupFold& fold, ViewCache* cache) {
  if (cache == nullptr) return;
  for (std::size_t pi = 0; pi < fold.slots.size(); ++pi) {
    for (const auto& [id, slot] : fold.slots[pi]) {
      if (slot.from_cache) cache->erase(pi, std::string(id));
    }
  }
}

// After the commit: the written views' removed lines are in the tables now, and the views read
// for the group join the cache.
void cache_fresh_views(GroupFold& fold, ViewCache* cache) {
  for (auto& pslots : fold.slots) {
    for (auto& [id, slot] : pslots) {
      if (slot.dirty) slot.view->removed.clear();
    }
  }
  if (cache == nullptr) return;
  for (std::size_t pi = 0; pi < fold.fresh.size(); ++pi) {
    for (auto& v : fold.fresh[pi]) {
      if (v.state.exists()) cache->put(pi, std::move(v));
    }
  }
}

// One attempt at the group: views (cache, else one read), fold, ONE write statement.
Attempt try_apply(pqxx::connection& conn, const std::vector<GroupItem>& items,
                  const std::vector<std::string>& ids,
                  const std::unordered_map<std::string, std::int64_t>& first_version,
                  ViewCache* cache, ParkedOrders* parked, bool assume_new, bool& assumed_any,
                  std::vector<BatchStats>& stats) {
  const std::size_t np = projections().size();
  GroupFold fold(np);
  assumed_any = false;
  take_cached_views(fold, ids, first_version, cache, parked, assume_new, assumed_any);
  std::vector<std::int64_t> table_oids =
      cache != nullptr ? cache->table_oids() : std::vector<std::int64_t>{};
  pqxx::nontransaction tx(conn);
  if (!load_missing_views(tx, fold, cache, table_oids)) return Attempt::Retry;

  fold.checkpoints.reserve(np * items.size());
  BatchWrite written = BatchWrite::Stale;
  try {
    fold_events(tx, fold, items, ids, parked, stats);
    if (!fold.held.empty()) {
      auto unparked = park_events(tx, fold.held);  // committed before the write
      if (!unparked.empty()) {
        for (const auto& id : unparked) parked->erase(id);
        evict_cached_views(fold, cache);
        return Attempt::Retry;  // fold those orders' events after all
      }
    }
    written = write_batch(tx, table_oids, fold.writes, fold.checkpoints);
  } catch (...) {
    evict_cached_views(fold, cache);
    throw;
  }
  switch (written) {
    case BatchWrite::Written:
      break;
    case BatchWrite::TablesSwapped:
      return Attempt::Retry;
    case BatchWrite::Stale:
      return Attempt::Stale;
  }
  cache_fresh_views(fold, cache);
  return Attempt::Done;
}

}  // namespace

std::vector<BatchStats> apply_group(pqxx::connection& conn,
                                    const std::vector<PartitionBatch>& batches, ViewCache* cache,
                                    ParkedOrders* parked) {
  std::vector<BatchStats> stats(batches.size());
  std::vector<GroupItem> items;
  items.reserve(batches.size());
  std::vector<std::string> ids;
  std::unordered_map<std::string, std::int64_t>
      first_version;  // of each order's first event in the group
  std::set<int> partitions;
  std::size_t total = 0;
  for (const auto& b : batches) total += b.events != nullptr ? b.events->size() : 0;
  first_version.reserve(total);
  ids.reserve(total);
  for (std::size_t bi = 0; bi < batches.size(); ++bi) {
    const auto& b = batches[bi];
    if (!partitions.insert(b.partition).second) {
      throw std::logic_error("apply_group: partition " + std::to_string(b.partition) +
                             " appears twice");
    }
    if (b.events == nullptr || b.events->empty()) continue;
    GroupItem item{b.partition, b.events, {}};
    for (const auto& e : *b.events) {
      if (first_version.emplace(e.stream_id, e.version).second) ids.push_back(e.stream_id);
      const auto gp = e.global_position.value_or(0);
      if (gp >= item.advance.last_global_position) {
        item.advance.last_global_position = gp;
        item.advance.last_recorded_at_us = e.recorded_at_us;
      }
    }
    stats[bi].last_global_position = item.advance.last_global_position;
    items.push_back(item);
  }
  if (items.empty()) return stats;
  // stats of the non-empty batches, in items order (filled in place, then copied back)
  std::vector<BatchStats> item_stats(items.size());

  bool assume_new = true;
  for (int attempt = 0; attempt < 5; ++attempt) {
    bool assumed_any = false;
    switch (try_apply(conn, items, ids, first_version, cache, parked, assume_new, assumed_any,
                      item_stats)) {
      case Attempt::Done: {
        std::size_t k = 0;
        for (std::size_t bi = 0; bi < batches.size(); ++bi) {
          if (batches[bi].events == nullptr || batches[bi].events->empty()) continue;
          item_stats[k].last_global_position = stats[bi].last_global_position;
          stats[bi] = std::move(item_stats[k++]);
        }
        return stats;
      }
      case Attempt::Retry:
        if (cache != nullptr) cache->clear();
        continue;
      case Attempt::Stale:
        // Only the partition's owner writes these rows, so a moved row is not expected (a
        // redelivered creation is: retried at once with reads); never overwrite.
        if (cache != nullptr) cache->clear();
        if (assumed_any) {
          assume_new = false;
          continue;
        }
        throw StaleReadModel(describe(items) +
                             ": a row changed since it was loaded; the batch is retried");
    }
  }
  throw StaleReadModel(describe(items) +
                       ": the read model's tables keep changing under the batch; it is retried");
}

BatchStats apply_batch(pqxx::connection& conn, int partition,
                       const std::vector<codec::RecordedEvent>& events, ViewCache* cache) {
  auto stats = apply_group(conn, {PartitionBatch{partition, &events}}, cache);
  return std::move(stats.front());
}

}  // namespace orders::read_side
