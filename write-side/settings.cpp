#include "write-side/settings.hpp"

#include <algorithm>

#include "common/console/console_settings.hpp"
#include "common/pg/sqlstate.hpp"

namespace orders::write_side {

std::vector<config::SettingSpec> setting_specs() {
  return {
      {"WRITE_ADDRESS", "127.0.0.1", "Address the write-side HTTP server listens on"},
      {"WRITE_PORT", "8080", "Port the write-side HTTP server listens on (0: any free port)"},
      {"DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/orders",
       "PostgreSQL connection URL; a Patroni cluster: "
       "host1:p1,host2:p2/db?target_session_attrs=read-write"},
      {"NATS_URL", "nats://127.0.0.1:4222",
       "NATS server URL (outbox relay); a cluster: comma-separated URLs"},
      {"NATS_STREAM", "ORDERS", "JetStream stream the relay publishes to"},
      {"NATS_STREAM_REPLICAS", "1",
       "Replicas of the stream the relay creates (3 on a 3-server JetStream cluster)"},
      {"NATS_STREAM_MAX_AGE_S", "0",
       "Retention of the stream: messages older than this many seconds are dropped (0: kept "
       "forever); applied when the relay creates or finds the stream"},
      {"NATS_STREAM_MAX_BYTES", "-1",
       "Retention of the stream: the oldest messages beyond this many bytes are dropped (-1: no "
       "limit)"},
      {"PG_POOL_SIZE", "16", "PostgreSQL connections in the pool (committers + queries)"},
      {"PG_STATEMENT_TIMEOUT_MS", "5000", "statement_timeout of every pooled connection, ms"},
      {"HTTP_WORKERS", "64",
       "Threads running blocking request handlers (queries, health; not commands)"},
      {"HTTP_IO_THREADS", "2", "Threads doing socket I/O"},
      {"HTTP_MAX_CONNECTIONS", "1024", "Open client connections beyond which new ones get 503"},
      {"BODY_LIMIT_BYTES", "1048576", "Largest request body; above it 413"},
      {"EVENT_LIMIT_BYTES", "65536",
       "Largest event a command may append (encoded data + metadata); above it 413 "
       "event-too-large and nothing is appended"},
      {"GROUP_COMMIT", "on", "on: many commands per transaction; off: one command per transaction"},
      {"GROUP_COMMIT_MAX_BATCH", "256", "Most commands in one group-commit transaction"},
      {"GROUP_COMMIT_CONNECTIONS", "2",
       "Group-commit transactions in flight at once (pipelining); with GROUP_COMMIT=off: parallel "
       "single-command transactions (default then: PG_POOL_SIZE - 2)"},
      {"GROUP_COMMIT_DELAY_US", "0",
       "A group-commit batch of fewer than 16 commands waits until its oldest command is this old "
       "(fewer, larger transactions for many independent low-rate clients; every command then "
       "waits "
       "up to this long, so closed-loop clients slow down: 0, the default, commits at once)"},
      {"CACHE_SIZE", "100000", "Aggregates (orders) kept in memory; 0 turns the cache off"},
      {"MAX_ORDER_LINES", "1000",
       "Most distinct products one order may hold; adding another is a 409 too-many-lines"},
      {"SNAPSHOT_EVERY", "100",
       "Snapshot an order every N events, and when its load folded N or more (0: off)"},
      {"IDEMPOTENCY_RETENTION_HOURS", "48", "Idempotency keys are kept at least this long (>= 24)"},
      {"RELAY_ACK_TIMEOUT_MS", "5000",
       "How long the relay waits for JetStream's publish acks (and stream requests) before it "
       "resyncs; shorter on a NATS cluster, where a lost server's acks never come"},
      {"RELAY_RETRY_MAX_MS", "5000",
       "Longest back-off between the relay's attempts after NATS failed (doubling from 100 ms); "
       "shorter on a NATS cluster, so publishing resumes soon after a new stream leader"},
      {"RELAY_ENABLED", "on",
       "Run the outbox relay (Postgres outbox -> NATS JetStream) in-process"},
      {"LOG_LEVEL", "info", "debug, info, warn or error"},
      {"COMMAND_TOKEN", "", "Bearer token for commands (empty: no auth)"},
      {"QUERY_TOKEN", "", "Bearer token for /events and /state (empty: no auth)"},
      {"ADMIN_TOKEN", "", "Bearer token for /metrics (empty: no auth)"},
      {"CONSOLE_READ_URL", "http://127.0.0.1:8081",
       "The read-side's origin as a browser reaches it: the web console at /ui reads projections "
       "and customers' orders there (empty: the console shows no read-side panels)"},
      {"CORS_ORIGINS", "http://127.0.0.1:8081",
       "Origins whose pages may GET this service cross-origin (comma-separated; the read-side's "
       "console; empty: none)"},
  };
}

PipelineOptions pipeline_options(const config::Settings& settings) {
  const auto pool_size = static_cast<std::size_t>(settings.integer("PG_POOL_SIZE", 2, 1000));
  PipelineOptions po;
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
  po.limits.max_lines = static_cast<std::size_t>(settings.integer("MAX_ORDER_LINES", 1, 100'000));
  po.event_limit = static_cast<std::size_t>(settings.integer("EVENT_LIMIT_BYTES", 1, 1LL << 30));
  return po;
}

http::ServerOptions server_options(const config::Settings& settings) {
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
  so.tokens = {{"command", settings.str("COMMAND_TOKEN")},
               {"query", settings.str("QUERY_TOKEN")},
               {"admin", settings.str("ADMIN_TOKEN")}};
  so.cors_origins = console::origins_setting(settings, "CORS_ORIGINS");
  return so;
}

}  // namespace orders::write_side
