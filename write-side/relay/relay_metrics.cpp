#include "write-side/relay/relay_metrics.hpp"

#include <string>
#include <vector>

namespace orders::relay {

RelayMetrics::RelayMetrics(metrics::Registry& reg) {
  published =
      &reg.counter("orders_relay_published_total", "Events published to JetStream by the relay");
  errors =
      &reg.counter("orders_relay_publish_errors_total", "Failed JetStream publishes (retried)");
  backlog =
      &reg.gauge("orders_outbox_backlog", "Committed events not yet acknowledged by JetStream");
  leader = &reg.gauge("orders_relay_is_leader", "1 when this process is the active outbox relay");
  nats = &reg.gauge("orders_relay_nats_connected", "1 when the relay's NATS connection is up");
  const std::vector<double> fine = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                    0.1,    0.2,   0.5,   1,     2,    5};
  const std::string step_help = "Duration of one relay loop step";
  step_sequence =
      &reg.histogram("orders_relay_step_seconds", step_help, {{"step", "db_step"}}, fine);
  step_publish =
      &reg.histogram("orders_relay_step_seconds", step_help, {{"step", "publish"}}, fine);
  step_acks = &reg.histogram("orders_relay_step_seconds", step_help, {{"step", "acks"}}, fine);
  const std::string age_help = "Age of an event (now - recorded_at) at a relay stage";
  age_read = &reg.histogram("orders_relay_event_age_seconds", age_help, {{"stage", "read"}}, fine);
  age_acked =
      &reg.histogram("orders_relay_event_age_seconds", age_help, {{"stage", "acked"}}, fine);
  const std::string wake_help = "What started a relay loop iteration";
  wake_signal = &reg.counter("orders_relay_wakeups_total", wake_help, {{"cause", "signal"}});
  wake_notify = &reg.counter("orders_relay_wakeups_total", wake_help, {{"cause", "notify"}});
  wake_timeout = &reg.counter("orders_relay_wakeups_total", wake_help, {{"cause", "timeout"}});
  wake_busy = &reg.counter("orders_relay_wakeups_total", wake_help, {{"cause", "busy"}});
  const std::string steps_help =
      "relay_step calls: numbered rows, only read events to publish, or found nothing";
  steps_sequenced = &reg.counter("orders_relay_steps_total", steps_help, {{"result", "sequenced"}});
  steps_read = &reg.counter("orders_relay_steps_total", steps_help, {{"result", "read_only"}});
  steps_empty = &reg.counter("orders_relay_steps_total", steps_help, {{"result", "empty"}});
  cpu = &reg.counter(
      "orders_relay_thread_cpu_seconds_total",
      "CPU time of the relay thread (Postgres client, message bodies, publishing, acks)");
}

}  // namespace orders::relay
