// orders_build_info{version,revision} 1: which build a process runs (common/version).
#pragma once
#include "common/metrics/metrics.hpp"

namespace orders::metrics {

void register_build_info(Registry& registry);

}  // namespace orders::metrics
