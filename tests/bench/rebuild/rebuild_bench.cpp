// Benchmark: rebuild-projection events/s over a bulk-loaded event store, against replaying the
// same events one event per transaction (what a naive projector does), in one run.
//
//   rebuild_bench                       100,000 orders x 10 events = 1,000,000 events
//   BENCH_ORDERS=20000 rebuild_bench    a smaller store
//   BENCH_BASELINE_EVENTS=20000         events replayed one per transaction (extrapolated)
//   DATABASE_URL=postgresql://...       use this (empty) database instead of a throwaway cluster
//   BENCH_REUSE=1                       with DATABASE_URL: keep the events already there (no load)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <pqxx/pqxx>

#include "common/pg/migrations.hpp"
#include "read-side/projector/view_store.hpp"
#include "read-side/rebuild/rebuild.hpp"
#include "read-side/rebuild/replay.hpp"
#include "read-side/view/order_view.hpp"
#include "tests/support/event_loader.hpp"
#include "tests/support/services.hpp"

namespace {

using namespace orders;
using Clock = std::chrono::steady_clock;

std::int64_t env_int(const char* name, std::int64_t def) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoll(v) : def;
}

// The machine's load average: figures from a shared 2-core machine need it beside them.
void print_load(const char* when) {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) == 3)
    std::printf("load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// One event per transaction into scratch copies of both tables: lock+load the order's row,
// fold, upsert, commit (fsync per commit, as a projector without batching).
double baseline(const std::string& url, std::int64_t events) {
  pqxx::connection conn(url);
  {
    pqxx::work tx(conn);
    tx.exec(
        "DROP TABLE IF EXISTS bench_orders, bench_customer_orders, bench_order_items, "
        "bench_customer_order_items");
    for (const char* t : {"orders", "customer_orders", "order_items", "customer_order_items"})
      tx.exec(std::string("CREATE TABLE bench_") + t + " (LIKE " + t + " INCLUDING ALL)");
    tx.commit();
  }
  const read_side::ProjectionDef defs[] = {
      {"orders", "bench_orders", read_side::ProjectionKind::Orders},
      {"customers", "bench_customer_orders", read_side::ProjectionKind::Customers}};
  for (const auto& d : defs) {
    conn.prepare("b_load_" + d.name, read_side::load_views_sql(d.kind, d.table, true));
    conn.prepare("b_upsert_" + d.name, read_side::upsert_views_sql(d.kind, d.table));
  }
  read_side::rebuild::PagePrefetcher pages(url, 0, events, 10000);
  const auto t = Clock::now();
  std::int64_t done = 0;
  while (auto page = pages.next()) {
    for (const auto& e : *page) {
      pqxx::work tx(conn);
      const auto ids = nlohmann::json::array({e.stream_id}).dump();
      for (const auto& d : defs) {
        read_side::OrderView v;
        auto rows = tx.exec_prepared("b_load_" + d.name, ids);
        if (!rows.empty()) v = read_side::view_from_row(d.kind, rows[0]);
        auto outcome = read_side::fold_event(v, e);
        if (!std::holds_alternative<read_side::FoldOutcome>(outcome))
          throw std::runtime_error("fold failed");
        tx.exec_prepared("b_upsert_" + d.name,
                         nlohmann::json::array({read_side::record_for(d.kind, v)}).dump());
      }
      tx.commit();
      ++done;
    }
  }
  const double secs = since(t);
  {
    pqxx::work tx(conn);
    tx.exec(
        "DROP TABLE bench_orders, bench_customer_orders, bench_order_items, "
        "bench_customer_order_items");
    tx.commit();
  }
  return static_cast<double>(done) / secs;
}

}  // namespace

int main() {
  const auto orders_n = env_int("BENCH_ORDERS", 100000);
  const auto baseline_events = env_int("BENCH_BASELINE_EVENTS", 20000);
  const bool tty = isatty(STDOUT_FILENO) == 1;
  try {
    std::string url;
    if (const char* u = std::getenv("DATABASE_URL"); u && *u) {
      url = u;
      pqxx::connection c(url);
      pg::apply_migrations(c);
    } else {
      url = rebuild_test::migrated_database("rebuild_bench");
    }
    std::cout << "rebuild benchmark: " << orders_n << " orders x 10 events, PostgreSQL " << url
              << ", " << sysconf(_SC_NPROCESSORS_ONLN) << " CPUs\n";

    auto t = Clock::now();
    std::int64_t loaded = 0;
    {
      pqxx::connection c(url);
      rebuild_test::LoadSpec spec;
      spec.orders = orders_n;
      std::int64_t have = 0;
      {
        pqxx::nontransaction q(c);
        have = q.exec1("SELECT count(*) FROM global_log")[0].as<std::int64_t>();
      }
      loaded =
          env_int("BENCH_REUSE", 0) != 0 && have > 0 ? have : rebuild_test::load_events(c, spec);
      pqxx::nontransaction n(c);
      n.exec("VACUUM ANALYZE events");
      n.exec("VACUUM ANALYZE global_log");
    }
    std::printf("load: %lld events written in bulk (events + global_log) in %.1f s\n",
                static_cast<long long>(loaded), since(t));

    struct Run {
      const char* name;
      bool unlogged;
    };
    const Run runs[] = {{"rebuild (empty live tables, LOGGED shadow load: the default)", false},
                        {"rebuild (full live tables, LOGGED shadow load: the default)", false},
                        {"rebuild (full live tables, UNLOGGED shadow load + SET LOGGED)", true}};
    double best_rate = 0;
    for (const auto& run : runs) {
      std::cout << "\n== " << run.name << "\n";
      read_side::rebuild::RebuildOptions o;
      o.projections = read_side::projections();
      o.unlogged_load = run.unlogged;
      read_side::rebuild::Progress progress(std::cout, tty);
      print_load("before");
      auto r = read_side::rebuild::rebuild(url, o, progress);
      const double rate = r.events / r.seconds;
      best_rate = std::max(best_rate, rate);
      std::printf(
          "%s: %lld events, %lld orders in %.2f s = %.0f events/s "
          "(fold+copy %.2f s, index %.2f s, compare %.2f s, projector held %.3f s)\n",
          run.name, static_cast<long long>(r.events), static_cast<long long>(r.orders), r.seconds,
          rate, r.replay_seconds, r.write_seconds, r.compare_seconds, r.cutover_seconds);
    }

    std::cout << "\n== baseline: one event per transaction (first " << baseline_events
              << " events)\n";
    const double base = baseline(url, std::min(baseline_events, loaded));
    std::printf("baseline: %.0f events/s -> %.0f s for %lld events (extrapolated)\n", base,
                static_cast<double>(loaded) / base, static_cast<long long>(loaded));
    print_load("after");
    std::printf(
        "\nRESULT: rebuild %.0f events/s vs one-event-per-transaction %.0f events/s (%.0fx)\n",
        best_rate, base, best_rate / base);
    std::printf(
        "reproduce: cmake --build build --target rebuild_bench && "
        "BENCH_ORDERS=%lld BENCH_BASELINE_EVENTS=%lld build/tests/bench/rebuild/rebuild_bench\n",
        static_cast<long long>(orders_n), static_cast<long long>(baseline_events));
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "benchmark failed: " << e.what() << "\n";
    return 1;
  }
}
