// The relay's metrics (names and labels are part of the dashboards): published / failed counts,
// backlog, leadership and NATS state, and where the end-to-end lag goes (each loop step's
// duration, each event's age when read and when acked, what woke the loop, what a step did).
#pragma once
#include "common/metrics/metrics.hpp"

namespace orders::relay {

struct RelayMetrics {
  explicit RelayMetrics(metrics::Registry& reg);

  metrics::Counter* published;
  metrics::Counter* errors;
  metrics::Gauge* backlog;
  metrics::Gauge* leader;
  metrics::Gauge* nats;
  metrics::Histogram* step_sequence;  // orders_relay_step_seconds{step}: db_step, publish, acks
  metrics::Histogram* step_publish;
  metrics::Histogram* step_acks;
  metrics::Histogram* age_read;  // orders_relay_event_age_seconds{stage}: read, acked
  metrics::Histogram* age_acked;
  metrics::Counter* wake_signal;  // orders_relay_wakeups_total{cause}
  metrics::Counter* wake_notify;
  metrics::Counter* wake_timeout;
  metrics::Counter* wake_busy;
  metrics::Counter* steps_sequenced;  // orders_relay_steps_total{result}
  metrics::Counter* steps_read;
  metrics::Counter* steps_empty;
  metrics::Counter* cpu;
};

}  // namespace orders::relay
