#include "projection/batch_apply.hpp"

#include <set>

#include "projection/order_view.hpp"
#include "projection/store.hpp"
#include "rebuild/locks.hpp"

namespace orders::read_side {

namespace {

void apply_one(pqxx::transaction_base& tx, OrderView& view, const codec::RecordedEvent& e,
               ProjectionApplyStats& stats) {
  auto outcome = fold_event(view, e);
  if (auto* err = std::get_if<FoldError>(&outcome)) throw ApplyError(err->message);
  switch (std::get<FoldOutcome>(outcome)) {
    case FoldOutcome::Applied: ++stats.applied; return;
    case FoldOutcome::Duplicate: ++stats.duplicates; return;
    case FoldOutcome::Gap: break;
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

}  // namespace

const OrderView* ViewCache::find(std::size_t projection, const std::string& order_id) {
  if (projection >= slots_.size()) return nullptr;
  auto& slot = slots_[projection];
  auto it = slot.views.find(order_id);
  if (it == slot.views.end()) return nullptr;
  slot.recency.splice(slot.recency.begin(), slot.recency, it->second.second);
  return &it->second.first;
}

void ViewCache::put(std::size_t projection, const OrderView& view) {
  if (capacity_ == 0) return;
  if (projection >= slots_.size()) slots_.resize(projection + 1);
  auto& slot = slots_[projection];
  if (slot.views.empty()) slot.views.reserve(capacity_);  // no rehashing as it fills
  const auto& id = view.state.order_id;
  if (auto it = slot.views.find(id); it != slot.views.end()) {
    it->second.first = view;
    slot.recency.splice(slot.recency.begin(), slot.recency, it->second.second);
    return;
  }
  if (slot.views.size() >= capacity_) {
    slot.views.erase(slot.recency.back());
    slot.recency.pop_back();
  }
  slot.recency.push_front(id);
  slot.views.emplace(id, std::make_pair(view, slot.recency.begin()));
}

void ViewCache::clear() { slots_.clear(); }

std::size_t ViewCache::size(std::size_t projection) const {
  return projection < slots_.size() ? slots_[projection].views.size() : 0;
}

void ViewCache::check_tables(const std::vector<std::int64_t>& table_oids) {
  if (table_oids != table_oids_) {
    clear();
    table_oids_ = table_oids;
  }
}

BatchStats apply_batch(pqxx::connection& conn, int partition,
                       const std::vector<codec::RecordedEvent>& events, ViewCache* cache) {
  BatchStats stats;
  if (events.empty()) return stats;

  std::vector<std::string> ids;
  {
    std::set<std::string> seen;
    for (const auto& e : events) {
      if (seen.insert(e.stream_id).second) ids.push_back(e.stream_id);
    }
  }
  CheckpointAdvance advance;
  for (const auto& e : events) {
    const auto gp = e.global_position.value_or(0);
    if (gp >= advance.last_global_position) {
      advance.last_global_position = gp;
      advance.last_recorded_at_us = e.recorded_at_us;
    }
  }
  stats.last_global_position = advance.last_global_position;

  pqxx::work tx(conn);
  tx.exec_params(kCutoverSharedLockSql, kCutoverLockClass, static_cast<int>(projections().size()));
  // After the cutover lock: a table swapped in by rebuild-projection has a new oid.
  if (cache != nullptr) cache->check_tables(read_table_oids(tx));
  std::vector<std::pair<std::string, CheckpointAdvance>> checkpoints;
  std::vector<std::map<std::string, OrderView>> committed(projections().size());
  for (std::size_t pi = 0; pi < projections().size(); ++pi) {
    const auto& p = projections()[pi];
    std::map<std::string, OrderView> views;
    std::vector<std::string> missing;
    for (const auto& id : ids) {
      const OrderView* hit = cache != nullptr ? cache->find(pi, id) : nullptr;
      if (hit != nullptr) {
        views.emplace(id, *hit);
      } else {
        missing.push_back(id);
      }
    }
    views.merge(load_views(tx, p, missing));
    std::map<std::string, std::int64_t> stored;  // version of each stored row as loaded
    for (const auto& [id, v] : views) stored.emplace(id, v.state.version);
    auto& pstats = stats.by_projection[p.name];
    std::set<std::string> dirty;
    for (const auto& e : events) {
      auto& view = views[e.stream_id];
      const auto before = pstats.applied;
      apply_one(tx, view, e, pstats);
      if (pstats.applied != before) dirty.insert(e.stream_id);
    }
    std::vector<ViewWrite> changed;
    changed.reserve(dirty.size());
    for (const auto& id : dirty) {
      auto s = stored.find(id);
      changed.push_back(ViewWrite{&views.at(id), s == stored.end() ? 0 : s->second});
    }
    if (!write_views(tx, p, changed)) {
      // Only the partition's owner writes these rows, so this is not expected; never overwrite.
      if (cache != nullptr) cache->clear();
      throw StaleReadModel("projection " + p.name + ", partition " + std::to_string(partition) +
                           ": a row changed since it was loaded; the batch is retried");
    }
    CheckpointAdvance a = advance;
    a.events_applied = pstats.applied;
    checkpoints.emplace_back(p.name, a);
    std::erase_if(views, [](const auto& kv) { return !kv.second.state.exists(); });
    committed[pi] = std::move(views);
  }
  advance_checkpoints(tx, partition, checkpoints);
  tx.commit();
  if (cache != nullptr) {
    for (std::size_t pi = 0; pi < committed.size(); ++pi) {
      for (const auto& [id, v] : committed[pi]) cache->put(pi, v);
    }
  }
  return stats;
}

}  // namespace orders::read_side
