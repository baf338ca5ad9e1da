// The read-side HTTP API (DESIGN.md "read-side"): handlers parse and validate, run one prepared
// query on a pooled connection, and map the rows to JSON. Route scopes: queries "query",
// /metrics "admin" (tokens in http::ServerOptions::tokens); /healthz and /readyz are open.
#pragma once
#include <functional>
#include <string>

#include <pqxx/pqxx>

#include "http/server.hpp"

namespace orders::pg {
class Pool;
}
namespace orders::metrics {
class Registry;
}
namespace orders::log {
class Logger;
}

namespace orders::read_side {

class ApplyNotifier;

struct QueryApiContext {
  pg::Pool& pool;
  ApplyNotifier& notifier;
  metrics::Registry& metrics;
  log::Logger& logger;
  std::function<bool()> bus_connected;  // for /readyz
};

// Prepares the query statements (use as the pool's ConnectionInit).
void prepare_query_statements(pqxx::connection& conn);

http::Router make_query_router(QueryApiContext& ctx);

}  // namespace orders::read_side
