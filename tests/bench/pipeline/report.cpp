#include "tests/bench/pipeline/report.hpp"

#include <cstdio>
#include <set>
#include <thread>

namespace orders::bench::pipeline {

namespace {

const char* kDriver = "driver (this bench)";

double load_average() {
  double l = 0;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = 0;
    std::fclose(f);
  }
  return l;
}

// "met" or "missed by X" for measured vs a target; higher_is_better says which way.
std::string verdict(double measured, double target, bool higher_is_better, const char* unit) {
  const bool met = higher_is_better ? measured >= target : measured <= target;
  if (met) return "met";
  char buf[96];
  std::snprintf(buf, sizeof buf, "missed by %.1f %s",
                higher_is_better ? target - measured : measured - target, unit);
  return buf;
}

void target_row(const char* what, const std::string& measured, const std::string& v) {
  std::printf("| %s | %s | %s |\n", what, measured.c_str(), v.c_str());
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

double service_cpu_us(const RunResult& r) {
  double total = 0;
  for (const auto& [part, us] : r.cpu_us) {
    if (part != kDriver) total += us;
  }
  return total;
}

Report::Report(Options o, std::string cmd)
    : options(std::move(o)), command(std::move(cmd)), load_average_at_start(load_average()) {}

std::vector<const RunResult*> Report::runs() const {
  std::vector<const RunResult*> out = {&pipeline};
  for (const auto* r : {&pipeline_warn, &write_alone, &emmett}) {
    if (*r) out.push_back(&**r);
  }
  return out;
}

void Report::print() const {
  std::printf(
      "\npipeline benchmark: write-side (relay on) + nats-server + 2 read-side replicas, settings "
      "as deploy/local/stack.sh gives them; PostgreSQL fsync on; %d connections, %s, %.0f s "
      "measured after %.0f s warm-up; %u cores, load average %.1f at the start (whatever else runs "
      "on the machine skews every figure)\n\n",
      options.connections,
      options.rate > 0 ? ("open loop at " + std::to_string(options.rate) + " cmds/s").c_str()
                       : "closed loop (as fast as answered)",
      options.seconds, options.warmup, std::thread::hardware_concurrency(), load_average_at_start);
  print_runs();
  print_cpu();
  print_targets();
  print_baselines();
  std::printf("\nreproduce: %s\n", command.c_str());
}

void Report::print_runs() const {
  std::printf(
      "| run | cmds/s | cmd p50 ms | cmd p99 ms | errors | both projections drained after stop | "
      "lag p50 ms | lag p99 ms | lag samples | CPU us/cmd (services + Postgres) |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto* r : runs()) {
    const bool lag = !r->load.lag_ms.empty();
    std::printf("| %s | %.0f | %.2f | %.2f | %lld | %s | %s | %s | %s | %.0f |\n", r->name.c_str(),
                r->cmds_per_s, r->p50_ms, r->p99_ms, static_cast<long long>(r->load.errors),
                r->drain_s ? fmt("%.2f s", *r->drain_s).c_str()
                           : (r->name.rfind("pipeline", 0) == 0 ? "not within 60 s" : "-"),
                lag ? fmt("%.2f", r->lag_p50_ms).c_str() : "-",
                lag ? fmt("%.2f", r->lag_p99_ms).c_str() : "-",
                lag ? (std::to_string(r->load.lag_ms.size()) + " (1 in 20; " +
                       std::to_string(r->load.probes_failed) + " failed, max queued " +
                       std::to_string(r->load.probes_max_queued) + ")")
                          .c_str()
                    : "-",
                service_cpu_us(*r));
  }
  for (const auto* r : runs()) {
    if (!r->note.empty()) std::printf("  %s: %s\n", r->name.c_str(), r->note.c_str());
    if (r->load.errors == 0) continue;
    std::printf("  %s errors by status:", r->name.c_str());
    for (const auto& [s, n] : r->load.statuses)
      std::printf(" %d x%lld", s, static_cast<long long>(n));
    std::printf("; e.g. %s\n", r->load.first_error.c_str());
  }
}

void Report::print_cpu() const {
  std::set<std::string> parts;
  for (const auto* r : runs())
    for (const auto& [p, us] : r->cpu_us) parts.insert(p);
  std::printf("\nCPU per command (us), over the measurement window:\n\n| part |");
  for (const auto* r : runs()) std::printf(" %s |", r->name.c_str());
  std::printf("\n|---|");
  for (std::size_t i = 0; i < runs().size(); ++i) std::printf("---|");
  std::printf("\n");
  for (const auto& p : parts) {
    std::printf("| %s |", p.c_str());
    for (const auto* r : runs()) {
      auto it = r->cpu_us.find(p);
      std::printf(it == r->cpu_us.end() ? " - |" : " %.1f |",
                  it == r->cpu_us.end() ? 0 : it->second);
    }
    std::printf("\n");
  }
  std::printf("| total, services + Postgres |");
  for (const auto* r : runs()) std::printf(" %.1f |", service_cpu_us(*r));
  std::printf(
      "\n\n(pg: writes / relay: the write-side's connections, told apart by their last statement; "
      "pg: projector / queries: the read-sides'; pg: background: WAL writer, checkpointer, "
      "autovacuum... of the whole cluster)\n");
}

void Report::print_targets() const {
  const auto& p = pipeline;
  std::printf(
      "\ntargets (issue 16) beside this run's figures:\n\n| target | measured | verdict "
      "|\n|---|---|---|\n");
  if (options.rate == 0) {
    target_row(">= 10,000 commands/s end to end", fmt("%.0f cmds/s", p.cmds_per_s),
               verdict(p.cmds_per_s, 10000, true, "cmds/s"));
  } else {
    target_row(">= 10,000 commands/s end to end", fmt("%.0f cmds/s", p.cmds_per_s),
               "not measured: --rate " + std::to_string(options.rate) + " (run with --rate 0)");
  }
  target_row("both projections drained <= 2 s after the load stops",
             p.drain_s ? fmt("%.2f s", *p.drain_s) : "not within 60 s",
             p.drain_s ? verdict(*p.drain_s, 2, false, "s") : "missed");
  target_row("errors 0", std::to_string(p.load.errors),
             verdict(static_cast<double>(p.load.errors), 0, false, "errors"));
  target_row("command p99 < 25 ms", fmt("%.2f ms", p.p99_ms), verdict(p.p99_ms, 25, false, "ms"));
  if (options.rate == 2000) {
    target_row("lag p99 < 50 ms at a steady 2,000 cmds/s", fmt("%.2f ms", p.lag_p99_ms),
               verdict(p.lag_p99_ms, 50, false, "ms"));
  } else {
    const std::string at = options.rate > 0 ? std::to_string(options.rate) + " cmds/s open loop"
                                            : fmt("%.0f cmds/s closed loop", p.cmds_per_s);
    target_row("lag p99 < 200 ms at 10,000 cmds/s", fmt("%.2f ms", p.lag_p99_ms) + " at " + at,
               verdict(p.lag_p99_ms, 200, false, "ms"));
    std::printf("| lag p99 < 50 ms at a steady 2,000 cmds/s | run with --rate 2000 | - |\n");
  }
  target_row("CPU per command, all processes (services + Postgres) <= 180 us",
             fmt("%.0f us", service_cpu_us(p)), verdict(service_cpu_us(p), 180, false, "us"));
  if (pipeline_warn) {
    const double warn = pipeline_warn->cmds_per_s;
    const double cost = warn > 0 ? (warn - p.cmds_per_s) / warn * 100 : 0;
    target_row("access log at info costs <= 5 % of throughput (vs LOG_LEVEL=warn)",
               fmt("%.1f %%", cost) + fmt(" (info %.0f", p.cmds_per_s) +
                   fmt(" vs warn %.0f cmds/s)", warn),
               verdict(cost, 5, false, "points"));
  } else {
    std::printf(
        "| access log at info costs <= 5 %% of throughput | run with --log-compare | - |\n");
  }
}

void Report::print_baselines() const {
  std::printf("\nbaselines (same cluster, same run unless noted):\n");
  if (write_alone) {
    const double ratio =
        write_alone->cmds_per_s > 0 ? pipeline.cmds_per_s / write_alone->cmds_per_s : 0;
    std::printf(
        "  write-side alone (relay off, same load and mix): %.0f cmds/s, p99 %.2f ms; the whole "
        "pipeline reaches %.0f %% of it\n",
        write_alone->cmds_per_s, write_alone->p99_ms, ratio * 100);
  }
  if (emmett) {
    std::printf(
        "  Emmett order service (peers/emmett-orders.mjs, same HTTP load, CreateOrder + AddItem): "
        "%.0f cmds/s, p99 %.2f ms, errors %lld; ours (whole pipeline) is %.1fx its throughput\n",
        emmett->cmds_per_s, emmett->p99_ms, static_cast<long long>(emmett->load.errors),
        emmett->cmds_per_s > 0 ? pipeline.cmds_per_s / emmett->cmds_per_s : 0.0);
  } else if (options.peers) {
    std::printf("  peer skipped: %s\n", emmett_why.c_str());
  }
  for (const auto& line : append_peers) std::printf("  %s\n", line.c_str());
  if (!options.peers) std::printf("  peers not run (--no-peers)\n");
  std::printf(
      "  write_side_bench (tests/bench/write_side, LOG_LEVEL=warn, create + 9 AddItem, 64 clients) "
      "is the README's write-side-alone figure; run it for the like-for-like number\n");
}

}  // namespace orders::bench::pipeline
