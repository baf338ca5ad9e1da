// The standard process_* metrics of Prometheus client libraries, read from /proc/self at scrape
// time: CPU seconds, resident and virtual memory, open and maximum file descriptors, start time.
#pragma once
#include <cstdint>
#include <optional>

#include "common/metrics/metrics.hpp"

namespace orders::metrics {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  std::int64_t resident_bytes = 0;
  std::int64_t virtual_bytes = 0;
  double start_time_seconds = 0;  // since the Unix epoch
};

// /proc/self/stat (and /proc/stat's btime for the start time); nullopt when unreadable.
std::optional<ProcessStats> read_process_stats();
std::int64_t count_open_fds();  // entries of /proc/self/fd; throws when unreadable
std::int64_t max_fds();         // RLIMIT_NOFILE soft limit

// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds.
void register_process_metrics(Registry& registry);

}  // namespace orders::metrics
