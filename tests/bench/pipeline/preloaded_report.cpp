// The tables of a --preload run: the pipeline and query figures per store size against the
// targets of issue 16 item 4, and with --growth the growth table of issue 13 item 6.
#include <cstdio>
#include <string>
#include <thread>

#include "tests/bench/pipeline/preloaded.hpp"

namespace orders::bench::pipeline {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string millions(std::int64_t n) {
  if (n >= 1000000) return fmt(n % 1000000 == 0 ? "%.0fM" : "%.2fM", static_cast<double>(n) / 1e6);
  if (n >= 1000) return fmt("%.0fk", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

std::string get_cell(const PreloadRun& r, const std::string& path, const char* which) {
  auto it = r.gets.find(path + " " + which);
  if (it == r.gets.end()) return "-";
  const auto& g = it->second;
  return fmt("%.2f", g.p99_ms) + (g.errors > 0 ? " (" + std::to_string(g.errors) + " errors)" : "");
}

double load_average() {
  double l = 0;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = 0;
    std::fclose(f);
  }
  return l;
}

void print_pipeline_table(const std::vector<PreloadRun>& runs) {
  std::printf(
      "| stored events | preload s | cmds/s | cmd p50 ms | cmd p99 ms | errors | drained after "
      "stop | GET /orders/{id} p99 ms old / new | /events p99 old / new | /state p99 old / new "
      "|\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : runs) {
    std::printf("| %s | %.0f | %.0f | %.2f | %.2f | %lld | %s |", millions(r.stored).c_str(),
                r.preload_s, r.best().cmds_per_s, r.best().p50_ms, r.best().p99_ms,
                static_cast<long long>(r.best().load.errors),
                r.best().drain_s ? fmt("%.2f s", *r.best().drain_s).c_str() : "not within 60 s");
    for (const auto& p : kGetPaths)
      std::printf(" %s / %s |", get_cell(r, p, "old").c_str(), get_cell(r, p, "new").c_str());
    std::printf("\n");
  }
  std::printf("\nGET p50 ms (old / new):");
  for (const auto& r : runs) {
    std::printf(" %s:", millions(r.stored).c_str());
    for (const auto& p : kGetPaths) {
      auto o = r.gets.find(p + " old"), n = r.gets.find(p + " new");
      std::printf(" %s / %s;", o == r.gets.end() ? "-" : fmt("%.2f", o->second.p50_ms).c_str(),
                  n == r.gets.end() ? "-" : fmt("%.2f", n->second.p50_ms).c_str());
    }
  }
  std::printf("\n");
  std::printf(
      "\nthe table shows each store's best round (most commands/s); every round, in order:\n");
  for (const auto& r : runs) {
    std::printf("  %s:", millions(r.stored).c_str());
    for (const auto& x : r.rounds)
      std::printf(" %.0f cmds/s p99 %.1f ms (drained %s);", x.cmds_per_s, x.p99_ms,
                  x.drain_s ? fmt("%.2f s", *x.drain_s).c_str() : "> 60 s");
    std::printf("\n");
  }
}

void print_targets(const std::vector<PreloadRun>& runs) {
  const PreloadRun* empty = nullptr;
  for (const auto& r : runs)
    if (r.stored == 0) empty = &r;
  std::printf("\ntargets (issue 16 item 4) per store size:\n\n");
  for (const auto& r : runs) {
    if (r.stored == 0) continue;
    std::string rate = "-", p99 = "-";
    if (empty != nullptr && empty->best().cmds_per_s > 0) {
      const double dr =
          (r.best().cmds_per_s - empty->best().cmds_per_s) / empty->best().cmds_per_s * 100;
      const double dp = (r.best().p99_ms - empty->best().p99_ms) / empty->best().p99_ms * 100;
      rate = fmt("%+.1f %%", dr) + (dr >= -10 ? " (met)" : " (missed)");
      p99 = fmt("%+.1f %%", dp) + (dp <= 10 ? " (met)" : " (missed)");
    }
    double worst = 0;
    std::string worst_what;
    for (const auto& [what, g] : r.gets) {
      if (g.p99_ms > worst) {
        worst = g.p99_ms;
        worst_what = what;
      }
    }
    std::printf(
        "  %s stored: cmds/s vs empty store %s; cmd p99 vs empty %s; worst GET p99 %.2f ms (%s) "
        "%s\n",
        millions(r.stored).c_str(), rate.c_str(), p99.c_str(), worst, worst_what.c_str(),
        worst < 5 ? "< 5 ms (met)" : ">= 5 ms (missed)");
  }
  if (empty == nullptr) std::printf("  (pass 0 in --preload for the empty-store comparison)\n");
}

void print_growth(const std::vector<PreloadRun>& runs) {
  std::printf(
      "\ngrowth (issue 13 item 6): append = the pipeline load above; rebuild on the full read "
      "model with the stack running; archive (`write-side archive --older-than 30d --max-batches`) "
      "of --archive-fraction of the preloaded Delivered orders\n\n"
      "| stored events | append cmds/s | append p99 ms | /events p99 old order | /state p99 old "
      "order | rebuild events/s | rebuild peak RSS MB | cutover hold s | bytes/event | archive "
      "events/s | archive: events moved, row bytes | hot store bytes before -> after |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : runs) {
    if (!r.live_rebuild) continue;
    const auto& b = *r.live_rebuild;
    std::printf("| %s | %.0f | %.2f | %s | %s | ", millions(r.stored).c_str(), r.best().cmds_per_s,
                r.best().p99_ms, get_cell(r, kGetPaths[1], "old").c_str(),
                get_cell(r, kGetPaths[2], "old").c_str());
    if (b.ok)
      std::printf("%.0f | %.0f | %.3f | ", b.events_per_s, b.peak_rss_mb, b.held_s);
    else
      std::printf("failed | %.0f | - | ", b.peak_rss_mb);
    std::printf("%.0f | ", r.size.bytes_per_event());
    if (r.archive && r.archive->ok) {
      const auto& a = *r.archive;
      std::printf("%.0f | %lld, %.1f MB | %.1f -> %.1f MB |\n", a.events_per_s,
                  static_cast<long long>(a.events), static_cast<double>(a.row_bytes) / 1e6,
                  static_cast<double>(a.hot_before) / 1e6, static_cast<double>(a.hot_after) / 1e6);
    } else {
      std::printf("%s | - | - |\n", r.archive ? ("failed: " + r.archive->error).c_str() : "-");
    }
  }
  std::printf("\nrebuilds (the preload's on an empty read model; the live one):\n");
  for (const auto& r : runs) {
    if (r.initial.ok)
      std::printf("  %s: preload rebuild: %s (peak RSS %.0f MB)\n", millions(r.stored).c_str(),
                  r.initial.line.c_str(), r.initial.peak_rss_mb);
    if (r.live_rebuild)
      std::printf("  %s: live rebuild:    %s (peak RSS %.0f MB)\n", millions(r.stored).c_str(),
                  r.live_rebuild->line.c_str(), r.live_rebuild->peak_rss_mb);
  }
  std::printf("\nstore size right after each preload (pg_total_relation_size):\n");
  for (const auto& r : runs) {
    const auto& s = r.size;
    std::printf(
        "  %s: events %.1f MB (TOAST %.1f MB), global_log %.1f MB, snapshots %.1f MB: %.0f "
        "bytes/event\n",
        millions(r.stored).c_str(), static_cast<double>(s.events_bytes) / 1e6,
        static_cast<double>(s.events_toast_bytes) / 1e6,
        static_cast<double>(s.global_log_bytes) / 1e6, static_cast<double>(s.snapshots_bytes) / 1e6,
        s.bytes_per_event());
  }
}

}  // namespace

void print_preloaded(const Options& o, const std::vector<PreloadRun>& runs) {
  std::printf(
      "\npipeline benchmark on a preloaded store: N events bulk-loaded (10 per order: Created, 6 "
      "ItemAdded, Confirmed, Shipped, Delivered, recorded in 2024; 1 order in 10 with a snapshot), "
      "read model by `read-side rebuild-projection --all`, stream primed at the head; then the "
      "stack as deployed, %d connections, %.0f s measured after %.0f s warm-up; GET p99 over %d "
      "sequential requests per path on a quiet stack after the load (old: random preloaded "
      "orders, new: orders the load created); %u cores, load average %.1f at the end\n\n",
      o.connections, o.seconds, o.warmup, o.get_requests, std::thread::hardware_concurrency(),
      load_average());
  print_pipeline_table(runs);
  print_targets(runs);
  if (o.growth) print_growth(runs);
}

void print_payload_sample(std::int64_t events, int pad, const std::pair<StoreSize, StoreSize>& s) {
  std::printf(
      "\nlarge events: %lld events with a %d-character metadata blob (JSON lines, 8 random hex "
      "characters each), bytes per "
      "event (events + global_log + snapshots, heap + TOAST + indexes):\n\n"
      "| compression of data/metadata | bytes/event | events MB | of it TOAST MB "
      "|\n|---|---|---|---|\n",
      static_cast<long long>(events), pad);
  for (const auto* x : {&s.first, &s.second}) {
    std::printf("| %s | %.0f | %.1f | %.1f |\n", x == &s.first ? "lz4 (V051, shipped)" : "pglz",
                x->bytes_per_event(), static_cast<double>(x->events_bytes) / 1e6,
                static_cast<double>(x->events_toast_bytes) / 1e6);
  }
}

}  // namespace orders::bench::pipeline
