// A pool's metrics, labelled pool=NAME: orders_pg_pool_connections{state="in_use"|"idle"},
// orders_pg_pool_max_connections, orders_pg_pool_waiting, orders_pg_pool_acquire_timeouts_total
// and the histogram orders_pg_pool_acquire_seconds. Call before the pool is shared.
#pragma once
#include <string>

#include "common/metrics/metrics.hpp"
#include "common/pg/pool.hpp"

namespace orders::pg {

void register_pool_metrics(metrics::Registry& registry, Pool& pool, const std::string& name);

}  // namespace orders::pg
