// write-side: wiring only. Subcommands: (none) | serve | migrate | --help.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "common/config/settings.hpp"
#include "common/http/server.hpp"
#include "common/log/crash_report.hpp"
#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "common/pg/migrations.hpp"
#include "common/pg/notify_broadcaster.hpp"
#include "common/pg/pool.hpp"
#include "common/pg/sqlstate.hpp"
#include "write-side/api/http_api.hpp"
#include "write-side/commands/command_pipeline.hpp"
#include "write-side/relay/outbox_relay.hpp"
#include "write-side/settings.hpp"
#include "write-side/store/event_store.hpp"
#include "write-side/store/idempotency_janitor.hpp"

namespace {

using namespace orders;

void print_help(const config::Settings& settings) {
  std::cout << "write-side: the order service's command side (event store, outbox, relay)\n\n"
               "Usage:\n"
               "  write-side [serve]   apply migrations, then serve HTTP (SIGTERM: graceful stop)\n"
               "  write-side migrate   apply the database migrations and exit\n"
               "  write-side --help    this text\n\n"
               "Settings (environment variables):\n"
            << settings.help_text() << "\n";
}

int migrate(const config::Settings& settings, log::Logger& logger) {
  pqxx::connection conn(settings.str("DATABASE_URL"));
  auto report = pg::apply_migrations(conn);
  logger.info("migrations applied", {{"applied", report.applied}, {"current", report.current}});
  return 0;
}

int serve(const config::Settings& settings, log::Logger& logger) {
  metrics::Registry registry;
  const auto url = settings.str("DATABASE_URL");
  {
    pqxx::connection conn(url);
    auto report = pg::apply_migrations(conn);
    logger.info("migrations applied", {{"applied", report.applied}, {"current", report.current}});
  }

  const auto pool_size = static_cast<std::size_t>(settings.integer("PG_POOL_SIZE", 2, 1000));
  const auto statement_timeout = settings.integer("PG_STATEMENT_TIMEOUT_MS", 0, 3'600'000);
  pg::Pool pool(url, pool_size, [statement_timeout](pqxx::connection& conn) {
    {
      pqxx::nontransaction tx(conn);
      tx.exec("SET statement_timeout = " + std::to_string(statement_timeout));
    }
    write_side::prepare_statements(conn);
  });

  write_side::PipelineOptions po;
  po.group_commit = settings.boolean("GROUP_COMMIT");
  po.max_batch = static_cast<std::size_t>(settings.integer("GROUP_COMMIT_MAX_BATCH", 1, 10000));
  po.committers =
      po.group_commit
          ? static_cast<std::size_t>(settings.integer("GROUP_COMMIT_CONNECTIONS", 1, 64))
          : std::max<std::size_t>(1, pool_size - 2);
  po.commit_delay =
      std::chrono::microseconds(settings.integer("GROUP_COMMIT_DELAY_US", 0, 1'000'000));
  po.cache_size = static_cast<std::size_t>(settings.integer("CACHE_SIZE", 0, 100'000'000));
  po.snapshot_every = settings.integer("SNAPSHOT_EVERY", 0, 1'000'000'000);
  // Declared before the pipeline: its commit listener uses them until the pipeline is gone.
  std::unique_ptr<relay::OutboxRelay> relay;
  if (settings.boolean("RELAY_ENABLED")) {
    relay::RelayOptions ro;
    ro.database_url = url;
    ro.nats_url = settings.str("NATS_URL");
    ro.stream = settings.str("NATS_STREAM");
    relay = std::make_unique<relay::OutboxRelay>(ro, logger, registry);
  } else {
    logger.warn("outbox relay disabled (RELAY_ENABLED=off): another replica's relay must publish");
  }
  // After each commit: wake the local relay when it leads, else NOTIFY the leader elsewhere.
  pg::NotifyBroadcaster notifier(url, "outbox", logger);
  write_side::CommandPipeline pipeline(pool, po, logger, registry);
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

  write_side::IdempotencyJanitor janitor(
      pool,
      std::chrono::hours(
          std::max<std::int64_t>(24, settings.integer("IDEMPOTENCY_RETENTION_HOURS", 24, 100'000))),
      logger);

  write_side::ApiDeps deps{pipeline, pool, logger, registry, {}};
  if (relay) {
    relay::OutboxRelay* r = relay.get();
    deps.extra_ready = [r] { return !r->is_leader() || r->nats_connected(); };
  }
  write_side::WriteApi api(std::move(deps));
  http::Router router;
  api.register_routes(router);

  http::ServerOptions so;
  so.address = settings.str("WRITE_ADDRESS");
  so.port = static_cast<std::uint16_t>(settings.integer("WRITE_PORT", 0, 65535));
  so.io_threads = static_cast<std::size_t>(settings.integer("HTTP_IO_THREADS", 1, 64));
  so.worker_threads = static_cast<std::size_t>(settings.integer("HTTP_WORKERS", 1, 4096));
  so.max_connections =
      static_cast<std::size_t>(settings.integer("HTTP_MAX_CONNECTIONS", 1, 1'000'000));
  so.body_limit = static_cast<std::size_t>(settings.integer("BODY_LIMIT_BYTES", 1, 1LL << 31));
  so.service_name = "write-side";
  so.is_transient = pg::is_transient;
  for (const char* scope : {"command", "query", "admin"}) {
    std::string env = scope == std::string("command") ? "COMMAND_TOKEN"
                      : scope == std::string("query") ? "QUERY_TOKEN"
                                                      : "ADMIN_TOKEN";
    so.tokens[scope] = settings.str(env);
  }
  if (so.tokens["command"].empty() && so.tokens["query"].empty() && so.tokens["admin"].empty()) {
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
  server.stop();    // stop accepting; in-flight requests finish (their commands still commit)
  pipeline.stop();  // finish anything queued and the batches in flight
  janitor.stop();
  if (relay) relay->stop();
  logger.info("write-side stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace orders;
  http::block_termination_signals();
  log::install_crash_report();
  const std::string command = argc > 1 ? argv[1] : "serve";
  try {
    auto settings = config::Settings::from_env(write_side::setting_specs());
    if (command == "--help" || command == "-h" || command == "help") {
      print_help(settings);
      return 0;
    }
    settings.one_of("LOG_LEVEL",
                    {"debug", "info", "warn", "error"});  // parse_level alone falls back to info
    log::Logger logger("write-side", log::parse_level(settings.str("LOG_LEVEL")));
    if (command == "migrate") return migrate(settings, logger);
    if (command == "serve") return serve(settings, logger);
    std::cerr << "write-side: unknown command '" << command << "' (try --help)\n";
    return 2;
  } catch (const config::ConfigError& e) {
    std::cerr << "write-side: bad setting: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "write-side: " << e.what() << "\n";
    return 1;
  }
}
