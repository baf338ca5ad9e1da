#include "read-side/projector/poison.hpp"

#include <optional>
#include <string>
#include <unordered_map>

namespace orders::read_side {

namespace {

// The event that fails among one order's events (applied one at a time up to it), parked;
// nullopt when each applies on its own.
std::optional<ParkedEvent> park_first_failing(pqxx::connection& conn, int partition,
                                              const std::vector<codec::RecordedEvent>& order_events,
                                              ViewCache* cache, ParkedOrders& parked,
                                              int attempts) {
  ParkedEvent p;
  p.attempts = attempts;
  const codec::RecordedEvent* culprit = nullptr;
  for (const auto& e : order_events) {
    const std::vector<codec::RecordedEvent> one{e};
    try {
      apply_group(conn, {PartitionBatch{partition, &one}}, cache, &parked);
    } catch (const std::exception& err) {
      if (!is_poison(err)) throw;
      culprit = &e;
      p.error = err.what();
      break;
    }
  }
  if (culprit == nullptr) return std::nullopt;
  p.order_id = culprit->stream_id;
  p.global_position = culprit->global_position.value_or(0);
  p.event_id = culprit->event_id;
  p.type = culprit->type;
  p.version = culprit->version;
  pqxx::nontransaction tx(conn);
  park_events(tx, {p});  // not held: stored whatever else is parked
  parked.insert(p.order_id);
  return p;
}

}  // namespace

bool is_poison(const std::exception& e) {
  return dynamic_cast<const ApplyError*>(&e) != nullptr ||
         dynamic_cast<const pqxx::data_exception*>(&e) != nullptr;
}

std::vector<ParkedEvent> park_poison(pqxx::connection& conn, int partition,
                                     const std::vector<codec::RecordedEvent>& events,
                                     ViewCache* cache, ParkedOrders& parked, int attempts) {
  std::vector<std::string> order_ids;  // first appearance
  std::unordered_map<std::string, std::vector<codec::RecordedEvent>> by_order;
  for (const auto& e : events) {
    auto [it, added] = by_order.try_emplace(e.stream_id);
    if (added) order_ids.push_back(e.stream_id);
    it->second.push_back(e);
  }
  std::vector<ParkedEvent> out;
  for (const auto& id : order_ids) {
    if (parked.count(id) > 0) continue;  // held by the batch's final apply
    const auto& mine = by_order.at(id);
    try {
      apply_group(conn, {PartitionBatch{partition, &mine}}, cache, &parked);
    } catch (const std::exception& e) {
      if (!is_poison(e)) throw;
      if (auto p = park_first_failing(conn, partition, mine, cache, parked, attempts)) {
        out.push_back(std::move(*p));
      }
    }
  }
  return out;
}

}  // namespace orders::read_side
