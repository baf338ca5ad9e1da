// Finding and parking the poison events of a partition batch that keeps failing (the applier
// calls it after PROJECTOR_PARK_AFTER failed applies): the batch is applied order by order, and
// an order that fails with a poison error (the event does not fold: ApplyError; or Postgres
// refuses its data: SQLSTATE class 22) event by event; its first failing event is parked with
// the error, the order joins the parked set, so its later events are held behind it. The other
// orders are applied (each its own transaction). Only that order stalls, not the partition.
#pragma once
#include <exception>
#include <vector>

#include <pqxx/pqxx>

#include "common/codec/recorded_event.hpp"
#include "read-side/projector/batch_apply.hpp"
#include "read-side/projector/parked_store.hpp"

namespace orders::read_side {

// True for a failure that is the event's own fault (parking it is right), false for one a retry
// may fix (stale rows, lost connection, timeouts).
bool is_poison(const std::exception& e);

// Parks the poison events of `events` (one partition, stream order) after `attempts` failed
// applies; returns them (empty: no order is at fault, nothing parked, the batch must fail).
// Applies the healthy orders' events on the way. Throws what is not poison (connection loss
// included); what was committed before stays committed (each commit is a complete apply).
std::vector<ParkedEvent> park_poison(pqxx::connection& conn, int partition,
                                     const std::vector<codec::RecordedEvent>& events,
                                     ViewCache* cache, ParkedOrders& parked, int attempts);

}  // namespace orders::read_side
