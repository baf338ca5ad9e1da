// CPU per access line, shipped logger against the one it replaced (reproduced below as the
// baseline), in one run: process CPU time (user + sys, all threads, the writer thread included)
// divided by lines. CPU time, not wall time, so a busy machine changes it little.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/log/logger.hpp"

namespace {

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// The previous logger's access line: a JSON object, dumped, then fwrite + fflush under a mutex.
class BaselineLogger {
 public:
  void access(const std::string& id, int status, double seconds) {
    nlohmann::json fields = {{"request_id", id},     {"method", "POST"},
                             {"route", "/orders"},   {"status", status},
                             {"duration_ms", std::round(seconds * 1e6) / 1e3}};
    std::string line = R"({"ts":"2026-12-04T01:00:00.000000Z","level":"info","service":"w")";
    line += R"(,"msg":"request")";
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      line += ',';
      line += nlohmann::json(it.key()).dump();
      line += ':';
      line += it.value().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    line += "}\n";
    std::lock_guard lock(mu_);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }

 private:
  std::mutex mu_;
};

// The shipped access line (common/http/access_log.cpp renders it the same way).
void shipped_access(orders::log::Logger& logger, const std::string& id, int status,
                    double seconds) {
  std::string fields = "\"request_id\":";
  orders::log::append_json_string(fields, id);
  fields += ",\"method\":\"POST\",\"route\":\"/orders\",\"status\":";
  fields += std::to_string(status);
  char duration[32];
  std::snprintf(duration, sizeof duration, ",\"duration_ms\":%.3f", seconds * 1e3);
  fields += duration;
  logger.write_rendered(orders::log::Level::Info, "request", fields);
}

// `finish` runs before the clock stops: the shipped logger's flush, so its writer thread's CPU
// for these lines counts too.
template <class Write, class Finish>
double us_per_line(int threads, long lines, Write write, Finish finish) {
  const double t0 = cpu_seconds();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (long i = 0; i < lines; ++i) write("req-" + std::to_string(t) + "-" + std::to_string(i));
    });
  for (auto& th : pool) th.join();
  finish();
  return (cpu_seconds() - t0) * 1e6 / static_cast<double>(threads * lines);
}

}  // namespace

int main(int argc, char** argv) {
  long lines = 200'000;
  int threads = 2;
  std::string out = "/tmp/log_bench.out";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--lines") lines = std::atol(argv[i + 1]);
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    if (a == "--out") out = argv[i + 1];
  }
  if (std::freopen(out.c_str(), "w", stderr) == nullptr) return 1;
  BaselineLogger baseline;
  const double before = us_per_line(
      threads, lines, [&](const std::string& id) { baseline.access(id, 201, 0.0012); }, [] {});
  orders::log::Logger logger("w", orders::log::Level::Info);
  const double shipped = us_per_line(
      threads, lines, [&](const std::string& id) { shipped_access(logger, id, 201, 0.0012); },
      [&] { logger.flush(); });
  std::printf("log_bench: %d threads x %ld access lines to %s (CPU per line, all threads)\n",
              threads, lines, out.c_str());
  std::printf("| logger | CPU us/line |\n|---|---|\n");
  std::printf("| baseline: JSON object + fwrite/fflush under a mutex (the previous logger) | %.2f |\n",
              before);
  std::printf("| shipped: rendered line, buffered, writer thread | %.2f |\n", shipped);
  std::printf("reproduce: build/tests/bench/log/log_bench --lines %ld --threads %d\n", lines,
              threads);
  return 0;
}
