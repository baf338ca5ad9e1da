#include "read-side/parking/unpark.hpp"

#include <stdexcept>
#include <vector>

#include <pqxx/pqxx>

#include "read-side/projector/batch_apply.hpp"
#include "read-side/projector/locks.hpp"
#include "read-side/projector/parked_store.hpp"
#include "read-side/projector/pg_text.hpp"
#include "read-side/projector/view_store.hpp"

namespace orders::read_side::parking {

namespace {

void prepare(pqxx::connection& conn) {
  prepare_projector_statements(conn);
  prepare_parked_statements(conn);
  conn.prepare(
      "up_lock",
      "SELECT count(pg_advisory_xact_lock($1::int, i)) FROM generate_series(0, $2::int - 1) i");
  conn.prepare("up_events", std::string("SELECT ") + kEventColumns + " FROM " + kEventFrom +
                                " WHERE g.global_position = ANY($1::bigint[]) "
                                "ORDER BY g.global_position");
  conn.prepare("up_delete", "DELETE FROM parked_events WHERE order_id = $1");
  conn.prepare("up_failed",
               "UPDATE parked_events SET attempts = attempts + 1, error = $2 WHERE order_id = $1 "
               "AND global_position = (SELECT min(global_position) FROM parked_events "
               "WHERE order_id = $1)");
}

// The parked events as the event store has them now, in global order.
std::vector<codec::RecordedEvent> stored_events(pqxx::transaction_base& tx,
                                                const std::string& order_id,
                                                const std::vector<ParkedEvent>& parked) {
  PgArrayText positions;
  for (const auto& p : parked) positions.add(p.global_position);
  std::vector<codec::RecordedEvent> events;
  for (const auto& row : tx.exec_prepared("up_events", positions.finish())) {
    events.push_back(event_from_row(row));
  }
  if (events.size() != parked.size()) {
    throw ApplyError("order " + order_id + ": " + std::to_string(parked.size() - events.size()) +
                     " parked events are not in the event store");
  }
  for (const auto& e : events) {
    if (e.stream_id != order_id) {
      throw ApplyError("global position " + std::to_string(e.global_position.value_or(0)) +
                       " holds an event of order " + e.stream_id + ", not " + order_id);
    }
  }
  return events;
}

// Folds the events into every projection's view; writes the changed views and the applied
// counts (rs_apply_group, inside tx). Throws ApplyError when an event still does not fold.
void fold_and_write(pqxx::transaction_base& tx, const std::string& order_id,
                    const std::vector<codec::RecordedEvent>& events, UnparkOutcome& out) {
  const auto& defs = projections();
  auto loaded =
      load_batch_views(tx, std::vector<std::vector<std::string>>(defs.size(), {order_id}));
  std::vector<OrderView> views(defs.size());
  std::vector<std::vector<ViewWrite>> writes(defs.size());
  std::vector<CheckpointRow> checkpoints;
  for (std::size_t pi = 0; pi < defs.size(); ++pi) {
    auto it = loaded.by_projection[pi].find(order_id);
    if (it != loaded.by_projection[pi].end()) views[pi] = std::move(it->second);
    const auto stored = views[pi].state.version;
    ProjectionApplyStats stats;
    for (const auto& e : events) apply_event(tx, views[pi], e, stats);
    if (views[pi].state.version > stored) writes[pi].push_back(ViewWrite{&views[pi], stored});
    CheckpointAdvance a{events.back().global_position.value_or(0), events.back().recorded_at_us,
                        stats.applied};
    checkpoints.push_back(CheckpointRow{defs[pi].name, codec::partition_of(order_id), a});
    if (pi == 0) out.applied = stats.applied;
  }
  out.version = views.front().state.version;
  if (write_batch(tx, {}, writes, checkpoints) != BatchWrite::Written) {
    throw std::runtime_error("order " + order_id + ": its row changed during unpark; run it again");
  }
}

}  // namespace

UnparkOutcome unpark_order(const std::string& database_url, const std::string& order_id) {
  pqxx::connection conn(database_url);
  prepare(conn);
  UnparkOutcome out;
  {
    pqxx::work tx(conn);
    tx.exec_prepared("up_lock", kCutoverLockClass, static_cast<int>(projections().size()));
    const auto parked = list_parked(tx, order_id);
    out.parked = static_cast<std::int64_t>(parked.size());
    if (parked.empty()) return out;  // NotParked
    try {
      fold_and_write(tx, order_id, stored_events(tx, order_id, parked), out);
      tx.exec_prepared("up_delete", order_id);
      tx.commit();
      out.kind = UnparkOutcome::Kind::Applied;
      return out;
    } catch (const ApplyError& e) {
      out.kind = UnparkOutcome::Kind::StillFailing;
      out.error = e.what();
    }
  }
  pqxx::work tx(conn);  // still failing: count the attempt on its first parked event
  tx.exec_prepared("up_failed", order_id, out.error);
  tx.commit();
  return out;
}

}  // namespace orders::read_side::parking
