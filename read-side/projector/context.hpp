// What the projector's threads share: settings, the bus connection, the read-your-writes waiters,
// logs, metrics.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/codec/recorded_event.hpp"
#include "common/metrics/metrics.hpp"
#include "read-side/read_your_writes/version_waiters.hpp"

namespace orders::log {
class Logger;
}
namespace orders::nats {
class Connection;
}

namespace orders::read_side {

struct ProjectorMetrics {
  explicit ProjectorMetrics(metrics::Registry& r);
  metrics::Counter& applied_orders;
  metrics::Counter& applied_customers;
  metrics::Counter& duplicates;
  metrics::Counter& gap_filled;
  metrics::Counter& failures;
  metrics::Counter& parked_total;  // poison events parked
  metrics::Gauge& parked_events;   // rows in parked_events (poison and held), per tick
  metrics::Histogram& batch_seconds;
  metrics::Histogram& batch_size;
  // Now - the event's recorded_at (the append, wall clock): when its batch was decoded and when it
  // was committed to the query tables. With the relay's orders_relay_event_age_seconds, where the
  // end-to-end lag sits.
  metrics::Histogram& event_age_fetched;
  metrics::Histogram& event_age_applied;
  metrics::Gauge& owned_partitions;
  metrics::Gauge& lag_events_orders;
  metrics::Gauge& lag_events_customers;
  metrics::Gauge& lag_seconds_orders;
  metrics::Gauge& lag_seconds_customers;
};

}  // namespace orders::read_side
namespace orders::read_side {

class ApplyPublisher;
class PeerPresence;

struct ProjectorContext {
  std::string database_url;
  nats::Connection& bus;
  VersionWaiters& waiters;
  log::Logger& logger;
  ProjectorMetrics& metrics;
  int batch_size = 500;
  ApplyPublisher* publisher = nullptr;  // tells other replicas (may be null in tests)
  PeerPresence* peers = nullptr;        // the coordinator reports the live replica count here
  // Group appliers per replica (PROJECTOR_APPLIERS): applier k holds the locks of, and applies,
  // the partitions p with p % appliers == k.
  int appliers = 1;
  // An applier starts a group at most once per group_delay, unless every partition it holds has
  // a batch pending or a batch is full: at low rates each group (one transaction and round trip,
  // its wake-ups and acks) then carries several events instead of one or two; a catch-up, whose
  // groups take longer than this, never waits.
  std::chrono::milliseconds group_delay{0};
  // PROJECTOR_PARK_AFTER: failed applies of a partition's batch before its poison events are
  // parked per order (0: never park, retry forever).
  int park_after = 5;
  std::string stream = "ORDERS";  // NATS_STREAM: the JetStream stream the partitions are read from
};

// Observes now - recorded_at of each event (events without recorded_at are skipped).
inline void observe_event_ages(metrics::Histogram& h,
                               const std::vector<codec::RecordedEvent>& events) {
  const auto now_us = codec::unix_now_us();
  for (const auto& e : events) {
    if (e.recorded_at_us > 0)
      h.observe(static_cast<double>(std::max<std::int64_t>(0, now_us - e.recorded_at_us)) / 1e6);
  }
}

// Session advisory lock key of partition p: pg_try_advisory_lock(kPartitionLockClass, p).
// Held by the applier's connection (read-side/projector/applier.hpp) for as long as it owns the
// partition: losing the connection loses the lock and the right to apply at once.
inline constexpr int kPartitionLockClass = 0x52534450;  // "RSDP"

}  // namespace orders::read_side
