#include "common/metrics/build_info_metric.hpp"

#include "common/version/build_info.hpp"

namespace orders::metrics {

void register_build_info(Registry& registry) {
  registry
      .gauge("orders_build_info", "Always 1; the labels name the running build",
             {{"version", version::release()}, {"revision", version::revision()}})
      .set(1);
}

}  // namespace orders::metrics
