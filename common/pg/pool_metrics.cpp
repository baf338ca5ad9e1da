#include "common/pg/pool_metrics.hpp"

namespace orders::pg {

void register_pool_metrics(metrics::Registry& registry, Pool& pool, const std::string& name) {
  const metrics::Labels label = {{"pool", name}};
  Pool* p = &pool;
  const char* connections_help = "Open pooled connections, by state (in_use: leased)";
  registry.gauge_callback("orders_pg_pool_connections", connections_help,
                          [p] { return static_cast<double>(p->stats().in_use); },
                          {{"pool", name}, {"state", "in_use"}});
  registry.gauge_callback("orders_pg_pool_connections", connections_help,
                          [p] {
                            const auto s = p->stats();
                            return static_cast<double>(s.open - s.in_use);
                          },
                          {{"pool", name}, {"state", "idle"}});
  registry.gauge_callback(
      "orders_pg_pool_max_connections", "Most connections the pool opens",
      [p] { return static_cast<double>(p->stats().size); }, label);
  registry.gauge_callback(
      "orders_pg_pool_waiting", "Callers waiting for a free connection now",
      [p] { return static_cast<double>(p->stats().waiting); }, label);
  registry.counter_callback(
      "orders_pg_pool_acquire_timeouts_total",
      "Acquires that found no free connection in time (answered 503)",
      [p] { return static_cast<double>(p->stats().timeouts); }, label);
  auto& acquire = registry.histogram(
      "orders_pg_pool_acquire_seconds",
      "Time to get a connection from the pool (waiting and connecting included)", label);
  pool.set_acquire_observer([&acquire](double seconds) { acquire.observe(seconds); });
}

}  // namespace orders::pg
