#include "write-side/service.hpp"

#include <algorithm>
#include <memory>
#include <string>

#include "common/console/console_settings.hpp"
#include "common/http/server.hpp"
#include "common/metrics/build_info_metric.hpp"
#include "common/metrics/metrics.hpp"
#include "common/metrics/process_metrics.hpp"
#include "common/pg/migrations.hpp"
#include "common/pg/notify_broadcaster.hpp"
#include "common/pg/pool.hpp"
#include "common/pg/pool_metrics.hpp"
#include "write-side/api/http_api.hpp"
#include "write-side/commands/command_pipeline.hpp"
#include "write-side/relay/outbox_relay.hpp"
#include "write-side/settings.hpp"
#include "write-side/store/event_store.hpp"
#include "write-side/store/idempotency_janitor.hpp"

namespace orders::write_side {

int migrate(const config::Settings& settings, log::Logger& logger) {
  pqxx::connection conn(settings.str("DATABASE_URL"));
  auto report = pg::apply_migrations(conn);
  logger.info("migrations applied", {{"applied", report.applied}, {"current", report.current}});
  return 0;
}

namespace {

// The outbox relay, unless RELAY_ENABLED=off (another replica's relay publishes then).
std::unique_ptr<relay::OutboxRelay> make_relay(const config::Settings& settings,
                                               log::Logger& logger, metrics::Registry& registry) {
  if (!settings.boolean("RELAY_ENABLED")) {
    logger.warn("outbox relay disabled (RELAY_ENABLED=off): another replica's relay must publish");
    return nullptr;
  }
  relay::RelayOptions ro;
  ro.database_url = settings.str("DATABASE_URL");
  ro.nats_url = settings.str("NATS_URL");
  ro.stream = settings.str("NATS_STREAM");
  ro.ack_timeout =
      std::chrono::milliseconds(settings.integer("RELAY_ACK_TIMEOUT_MS", 100, 600'000));
  ro.backoff_max = std::chrono::milliseconds(settings.integer("RELAY_RETRY_MAX_MS", 100, 600'000));
  ro.stream_replicas = static_cast<int>(settings.integer("NATS_STREAM_REPLICAS", 1, 5));
  ro.stream_max_age =
      std::chrono::seconds(settings.integer("NATS_STREAM_MAX_AGE_S", 0, 100LL * 365 * 86400));
  ro.stream_max_bytes = settings.integer("NATS_STREAM_MAX_BYTES", -1, 1LL << 50);
  return std::make_unique<relay::OutboxRelay>(ro, logger, registry);
}

}  // namespace

int serve(const config::Settings& settings, log::Logger& logger) {
  metrics::Registry registry;
  metrics::register_process_metrics(registry);
  metrics::register_build_info(registry);
  const auto url = settings.str("DATABASE_URL");
  migrate(settings, logger);

  const auto pool_size = static_cast<std::size_t>(settings.integer("PG_POOL_SIZE", 2, 1000));
  const auto statement_timeout = settings.integer("PG_STATEMENT_TIMEOUT_MS", 0, 3'600'000);
  pg::Pool pool(url, pool_size, [statement_timeout](pqxx::connection& conn) {
    {
      pqxx::nontransaction tx(conn);
      tx.exec("SET statement_timeout = " + std::to_string(statement_timeout));
    }
    prepare_statements(conn);
  });
  pg::register_pool_metrics(registry, pool, "main");

  const auto po = pipeline_options(settings);
  // Declared before the pipeline: its commit listener uses them until the pipeline is gone.
  std::unique_ptr<relay::OutboxRelay> relay = make_relay(settings, logger, registry);
  // After each commit: wake the local relay when it leads, else NOTIFY the leader elsewhere.
  pg::NotifyBroadcaster notifier(url, "outbox", logger);
  CommandPipeline pipeline(pool, po, logger, registry);
  {
    relay::OutboxRelay* r = relay.get();
    pg::NotifyBroadcaster* n = &notifier;
    pipeline.set_commit_listener([r, n] {
      if (r != nullptr && r->is_leader()) {
        r->wake();
      } else {
        n->request();
      }
    });
  }

  IdempotencyJanitor janitor(pool,
                             std::chrono::hours(std::max<std::int64_t>(
                                 24, settings.integer("IDEMPOTENCY_RETENTION_HOURS", 24, 100'000))),
                             logger);

  ApiDeps deps{pipeline, pool, logger, registry, {}};
  deps.console = console::console_options(settings, "write-side");
  if (relay) {
    relay::OutboxRelay* r = relay.get();
    deps.extra_ready = [r] { return !r->is_leader() || r->nats_connected(); };
  }
  WriteApi api(std::move(deps));
  http::Router router;
  api.register_routes(router);

  const auto so = server_options(settings);
  if (std::all_of(so.tokens.begin(), so.tokens.end(),
                  [](const auto& t) { return t.second.empty(); })) {
    logger.warn(
        "authentication is OFF: set COMMAND_TOKEN, QUERY_TOKEN and ADMIN_TOKEN to require tokens");
  }

  pipeline.start();
  if (relay) relay->start();
  janitor.start();
  http::Server server(so, std::move(router), logger, registry);
  server.start();
  logger.info("write-side listening", {{"address", so.address},
                                       {"port", server.port()},
                                       {"group_commit", po.group_commit},
                                       {"max_batch", po.max_batch},
                                       {"committers", po.committers},
                                       {"cache_size", po.cache_size}});

  http::wait_for_termination_signal();
  logger.info("shutting down: draining requests");
  api.stop_waiting();  // long-polling GET /events answer now
  server.stop();       // stop accepting; in-flight requests finish (their commands still commit)
  pipeline.stop();     // finish anything queued and the batches in flight
  janitor.stop();
  if (relay) relay->stop();
  logger.info("write-side stopped");
  return 0;
}

}  // namespace orders::write_side
