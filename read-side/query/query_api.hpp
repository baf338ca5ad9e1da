// The read-side HTTP API (docs/http-api.md): handlers parse and validate, run one prepared
// query on a pooled connection, and map the rows to JSON. Route scopes: queries "query",
// /metrics "admin" (tokens in http::ServerOptions::tokens); /healthz and /readyz are open.
#pragma once
#include <functional>
#include <string>

#include <pqxx/pqxx>

#include "common/console/console_routes.hpp"
#include "common/http/server.hpp"

namespace orders::pg {
class Pool;
}
namespace orders::metrics {
class Registry;
class Counter;
class Gauge;
}  // namespace orders::metrics
namespace orders::log {
class Logger;
}

namespace orders::read_side {

class VersionWaiters;

struct QueryApiContext {
  pg::Pool& pool;
  VersionWaiters& waiters;
  metrics::Registry& metrics;
  log::Logger& logger;
  std::function<bool()> bus_connected;  // for /readyz
  // Set by make_query_router: queries of GET /orders/{id}?min_version after the first, by cause
  // (orders_min_version_requeries_total{cause=reached|wake_all|periodic}).
  metrics::Counter* requery_reached = nullptr;
  metrics::Counter* requery_wake_all = nullptr;
  metrics::Counter* requery_periodic = nullptr;
  metrics::Gauge* waiting =
      nullptr;  // orders_min_version_waiting: requests waiting for min_version
  // GET /ui: the web console, and where it finds the write-side (console/console_routes.hpp).
  console::ConsoleOptions console{};
};

// Prepares the query statements (use as the pool's ConnectionInit).
void prepare_query_statements(pqxx::connection& conn);

http::Router make_query_router(QueryApiContext& ctx);

}  // namespace orders::read_side
