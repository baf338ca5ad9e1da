#include "common/metrics/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace orders::metrics {
namespace {

std::optional<double> boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double btime = 0;
      if (in >> btime) return btime;
      return std::nullopt;
    }
    in.ignore(1 << 20, '\n');
  }
  return std::nullopt;
}

ProcessStats stats_or_throw() {
  auto s = read_process_stats();
  if (!s) throw std::runtime_error("/proc/self/stat unreadable");
  return *s;
}

}  // namespace

std::optional<ProcessStats> read_process_stats() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string x; fields >> x;) f.push_back(x);
  if (f.size() < 22) return std::nullopt;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  ProcessStats s;
  try {
    s.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;           // utime, stime
    s.virtual_bytes = std::stoll(f[20]);                                    // vsize
    s.resident_bytes = static_cast<std::int64_t>(std::stod(f[21]) * page);  // rss pages
    const auto boot = boot_time_seconds();
    if (!boot) return std::nullopt;
    s.start_time_seconds = *boot + std::stod(f[19]) / tick;  // starttime, ticks after boot
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return s;
}

std::int64_t count_open_fds() {
  std::int64_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    ++n;
  return n - 1;  // the iterator's own descriptor
}

std::int64_t max_fds() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) throw std::runtime_error("getrlimit failed");
  return static_cast<std::int64_t>(r.rlim_cur);
}

void register_process_metrics(Registry& registry) {
  registry.counter_callback("process_cpu_seconds_total", "User and system CPU time, seconds",
                            [] { return stats_or_throw().cpu_seconds; });
  registry.gauge_callback("process_resident_memory_bytes", "Resident memory size, bytes",
                          [] { return static_cast<double>(stats_or_throw().resident_bytes); });
  registry.gauge_callback("process_virtual_memory_bytes", "Virtual memory size, bytes",
                          [] { return static_cast<double>(stats_or_throw().virtual_bytes); });
  registry.gauge_callback("process_open_fds", "Open file descriptors",
                          [] { return static_cast<double>(count_open_fds()); });
  registry.gauge_callback("process_max_fds", "Maximum open file descriptors (soft limit)",
                          [] { return static_cast<double>(max_fds()); });
  const auto start = read_process_stats();
  const double start_time = start ? start->start_time_seconds : 0;
  registry.gauge_callback("process_start_time_seconds",
                          "Start time of the process since the Unix epoch, seconds",
                          [start, start_time] {
                            if (!start) throw std::runtime_error("start time unknown");
                            return start_time;
                          });
}

}  // namespace orders::metrics
