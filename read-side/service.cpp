#include "read-side/service.hpp"

#include <chrono>
#include <thread>

#include <pqxx/pqxx>

#include "common/console/console_settings.hpp"
#include "common/http/server.hpp"
#include "common/log/logger.hpp"
#include "common/metrics/build_info_metric.hpp"
#include "common/metrics/metrics.hpp"
#include "common/metrics/process_metrics.hpp"
#include "common/nats/connection.hpp"
#include "common/pg/migrations.hpp"
#include "common/pg/pool.hpp"
#include "common/pg/pool_metrics.hpp"
#include "common/pg/sqlstate.hpp"
#include "read-side/projector/context.hpp"
#include "read-side/projector/coordinator.hpp"
#include "read-side/projector/view_store.hpp"
#include "read-side/query/query_api.hpp"
#include "read-side/read_your_writes/applied_payload.hpp"
#include "read-side/read_your_writes/apply_publisher.hpp"
#include "read-side/read_your_writes/apply_subscriber.hpp"
#include "read-side/read_your_writes/version_waiters.hpp"
#include "read-side/settings.hpp"

namespace orders::read_side {

ProjectorMetrics::ProjectorMetrics(metrics::Registry& r)
    : applied_orders(r.counter("orders_projector_events_applied_total",
                               "Events applied by a projection", {{"projection", "orders"}})),
      applied_customers(r.counter("orders_projector_events_applied_total",
                                  "Events applied by a projection", {{"projection", "customers"}})),
      duplicates(
          r.counter("orders_projector_duplicates_total", "Bus events skipped as already applied")),
      gap_filled(r.counter("orders_projector_gap_filled_total",
                           "Events read from the event store to close a gap")),
      failures(r.counter("orders_projector_batch_failures_total",
                         "Batches that failed and were retried")),
      parked_total(r.counter("orders_projector_events_parked_total",
                             "Poison events parked (their order waits for read-side unpark)")),
      parked_events(r.gauge("orders_projector_parked_events",
                            "Events in parked_events: poison events and those held behind them")),
      batch_seconds(
          r.histogram("orders_projector_batch_seconds", "Time to apply and commit one batch")),
      batch_size(r.histogram("orders_projector_batch_size", "Events per applied batch", {},
                             {1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000})),
      event_age_fetched(r.histogram("orders_projector_event_age_seconds",
                                    "Time from an event's append in the event store to this stage",
                                    {{"stage", "fetched"}})),
      event_age_applied(r.histogram("orders_projector_event_age_seconds",
                                    "Time from an event's append in the event store to this stage",
                                    {{"stage", "applied"}})),
      owned_partitions(
          r.gauge("orders_projector_owned_partitions", "Partitions this replica applies")),
      lag_events_orders(r.gauge("orders_projector_lag_events", "Sequenced events not yet applied",
                                {{"projection", "orders"}})),
      lag_events_customers(r.gauge("orders_projector_lag_events",
                                   "Sequenced events not yet applied",
                                   {{"projection", "customers"}})),
      lag_seconds_orders(r.gauge("orders_projector_lag_seconds",
                                 "Age of the oldest event not yet applied",
                                 {{"projection", "orders"}})),
      lag_seconds_customers(r.gauge("orders_projector_lag_seconds",
                                    "Age of the oldest event not yet applied",
                                    {{"projection", "customers"}})) {}

namespace {

// Start-up waits for Postgres (e.g. started at the same time by a stack script).
pg::MigrationReport migrate_with_retry(const std::string& url, log::Logger& logger,
                                       std::chrono::seconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (true) {
    try {
      pqxx::connection conn(url);
      return pg::apply_migrations(conn);
    } catch (const pqxx::broken_connection& e) {
      if (std::chrono::steady_clock::now() > deadline) throw;
      logger.warn("waiting for postgres", {{"error", e.what()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

nats::ConnectOptions bus_options(const config::Settings& settings) {
  nats::ConnectOptions o;
  o.url = settings.str("NATS_URL");
  o.retry_on_failed_connect = true;  // the projector waits for NATS
  // Pings find a server lost without a TCP reset (a machine down) in ~2 intervals (cnats: 2
  // outstanding pings), as for the relay; the reconnect then rebinds every partition.
  o.ping_interval = std::chrono::seconds(2);
  return o;
}

}  // namespace

int migrate(const config::Settings& settings, log::Logger& logger) {
  auto report = migrate_with_retry(settings.str("DATABASE_URL"), logger, std::chrono::seconds(30));
  logger.info("migrations applied", {{"applied", report.applied}, {"current", report.current}});
  return 0;
}

int serve(const config::Settings& settings, log::Logger& logger) {
  const auto url = settings.str("DATABASE_URL");
  const auto id = replica_id(settings);
  auto report = migrate_with_retry(url, logger, std::chrono::seconds(60));
  logger.info("migrations applied", {{"applied", report.applied}, {"current", report.current}});

  metrics::Registry registry;
  metrics::register_process_metrics(registry);
  metrics::register_build_info(registry);
  ProjectorMetrics projector_metrics(registry);
  VersionWaiters waiters;
  // Only the query pool gets a statement_timeout (a locked table answers 503, not a hang); the
  // projector and rebuild connections have none.
  const auto statement_timeout = settings.integer("PG_STATEMENT_TIMEOUT_MS", 0, 3'600'000);
  pg::Pool pool(url, static_cast<std::size_t>(settings.integer("PG_POOL_SIZE", 1, 1000)),
                [statement_timeout](pqxx::connection& c) {
                  {
                    pqxx::nontransaction tx(c);
                    tx.exec("SET statement_timeout = " + std::to_string(statement_timeout));
                  }
                  prepare_query_statements(c);
                });
  pg::register_pool_metrics(registry, pool, "query");
  auto bus = nats::Connection::connect(bus_options(settings));

  QueryApiContext api{pool, waiters, registry, logger, [&bus] { return bus.connected(); }};
  api.console = console::console_options(settings, "read-side");

  http::ServerOptions options;
  options.address = settings.str("READ_ADDRESS");
  options.port = static_cast<std::uint16_t>(settings.integer("READ_PORT", 0, 65535));
  options.worker_threads = static_cast<std::size_t>(settings.integer("HTTP_WORKERS", 1, 4096));
  options.service_name = "read-side";
  options.is_transient = pg::is_transient;
  options.tokens = {{"query", settings.str("QUERY_TOKEN")}, {"admin", settings.str("ADMIN_TOKEN")}};
  options.cors_origins = console::origins_setting(settings, "CORS_ORIGINS");
  if (options.tokens["query"].empty())
    logger.warn("QUERY_TOKEN is empty: queries need no authentication");
  if (options.tokens["admin"].empty())
    logger.warn("ADMIN_TOKEN is empty: /metrics needs no authentication");
  http::Server server(options, make_query_router(api), logger, registry);

  ProjectorContext ctx{url,
                       bus,
                       waiters,
                       logger,
                       projector_metrics,
                       static_cast<int>(settings.integer("PROJECTOR_BATCH", 1, 10000))};
  ctx.stream = settings.str("NATS_STREAM");
  ctx.appliers = static_cast<int>(settings.integer("PROJECTOR_APPLIERS", 1, 16));
  ctx.group_delay =
      std::chrono::milliseconds(settings.integer("PROJECTOR_GROUP_DELAY_MS", 0, 1000));
  ctx.park_after = static_cast<int>(settings.integer("PROJECTOR_PARK_AFTER", 0, 1000));
  {
    // Own notifications carry this token and are ignored by the own subscriber.
    const auto token = make_replica_token();
    const char* help = "NOTIFY read_side_applied received, by kind";
    SubscriberMetrics subscriber_metrics{
        &registry.counter("orders_applied_notifications_total", help, {{"kind", "orders"}}),
        &registry.counter("orders_applied_notifications_total", help, {{"kind", "all"}}),
        &registry.counter("orders_applied_notifications_total", help, {{"kind", "own"}})};
    PeerPresence peers;
    ApplySubscriber subscriber(url, token, waiters, logger, subscriber_metrics, &peers);
    ApplyPublisher publisher(
        url, token, logger, peers,
        &registry.counter("orders_applied_broadcasts_skipped_total",
                          "Applies not broadcast: no other replica was live or heard from"));
    ctx.publisher = &publisher;
    ctx.peers = &peers;
    Coordinator coordinator(ctx, id);
    server.start();
    logger.info("read-side serving", {{"port", server.port()}, {"replica_id", id}});
    http::wait_for_termination_signal();
    logger.info("shutting down");
    server.stop();
    // coordinator: workers finish and ack their current batch; listener stops.
  }
  logger.info("stopped");
  return 0;
}

}  // namespace orders::read_side
