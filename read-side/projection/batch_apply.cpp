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

BatchStats apply_batch(pqxx::connection& conn, int partition,
                       const std::vector<codec::RecordedEvent>& events) {
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
  std::vector<std::pair<std::string, CheckpointAdvance>> checkpoints;
  for (const auto& p : projections()) {
    auto views = load_views(tx, p, ids);
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
      throw StaleReadModel("projection " + p.name + ", partition " + std::to_string(partition) +
                           ": a row changed since it was loaded; the batch is retried");
    }
    CheckpointAdvance a = advance;
    a.events_applied = pstats.applied;
    checkpoints.emplace_back(p.name, a);
  }
  advance_checkpoints(tx, partition, checkpoints);
  tx.commit();
  return stats;
}

}  // namespace orders::read_side
