#include "read-side/settings.hpp"

#include <unistd.h>

namespace orders::read_side {

std::vector<config::SettingSpec> setting_specs() {
  return {
      {"READ_ADDRESS", "127.0.0.1", "Address the read-side listens on"},
      {"READ_PORT", "8081", "Port the read-side listens on"},
      {"DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/orders",
       "PostgreSQL (query tables and the event store)"},
      {"NATS_URL", "nats://127.0.0.1:4222",
       "NATS server with JetStream; a cluster: comma-separated URLs"},
      {"NATS_STREAM", "ORDERS", "JetStream stream of order events (subjects <lower>.events.<p>)"},
      {"PG_POOL_SIZE", "16",
       "Postgres connections for queries (the projector uses its own: 1 + PROJECTOR_APPLIERS)"},
      {"HTTP_WORKERS", "64", "Concurrent request handlers"},
      {"PG_STATEMENT_TIMEOUT_MS", "5000",
       "statement_timeout of every pooled query connection, ms (0 = none)"},
      {"LOG_LEVEL", "info", "debug, info, warn or error"},
      {"REPLICA_ID", "", "Name of this replica (empty: <hostname>-<pid>)"},
      {"PROJECTOR_BATCH", "5000",
       "Events fetched per partition batch (the batches pending from every owned partition are "
       "applied in one transaction)"},
      {"PROJECTOR_APPLIERS", "2",
       "Group appliers per replica: each has one Postgres connection holding the locks of its "
       "partitions (p mod N) and applies their pending batches in one transaction"},
      {"PROJECTOR_GROUP_DELAY_MS", "3",
       "An applier starts its next group at most this often unless every partition it holds has a "
       "batch waiting (fewer, larger transactions at low rates; 0: apply at once)"},
      {"PROJECTOR_PARK_AFTER", "5",
       "Failed applies of a partition's batch before its poison events are parked per order "
       "(the order waits for `read-side unpark`, the partition's other orders go on; 0: never "
       "park, retry forever)"},
      {"QUERY_TOKEN", "", "Bearer token for queries (empty: no auth)"},
      {"ADMIN_TOKEN", "", "Bearer token for /metrics and admin (empty: no auth)"},
      {"CONSOLE_WRITE_URL", "http://127.0.0.1:8080",
       "The write-side's origin as a browser reaches it: the web console at /ui reads order "
       "timelines and the global log there (empty: the console shows no write-side panels)"},
      {"CORS_ORIGINS", "http://127.0.0.1:8080",
       "Origins whose pages may GET this service cross-origin (comma-separated; the write-side's "
       "console; empty: none)"},
  };
}

std::string replica_id(const config::Settings& s) {
  auto id = s.str("REPLICA_ID");
  if (!id.empty()) return id;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return std::string(host[0] ? host : "read-side") + "-" + std::to_string(getpid());
}

}  // namespace orders::read_side
