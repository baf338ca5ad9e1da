// Command latency on a long stream (10,000 events) with and without snapshots, against a fresh
// order, in one run. The aggregate cache is off (CACHE_SIZE=0) so every command loads its order
// from the store: that load is what snapshots shorten.
//
//   snapshot_bench [--events 10000] [--commands 300]
//
// Starts its own PostgreSQL (fsync on) and a write-side per case; the long stream is bulk-inserted
// with SQL. Prints p50/p99 per case, the ratio to the fresh order (target: within 2x with
// snapshots) and the reproduce command.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "tests/support/services.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace orders::testing;

struct Result {
  double p50_ms = 0, p99_ms = 0;
  int errors = 0;
};

Result drive(int port, const std::string& order_id, int commands) {
  HttpClient client("127.0.0.1", port);
  std::vector<double> ms;
  Result r;
  for (int i = 0; i < commands; ++i) {
    const std::string body = R"({"product_id":"p-1","quantity":1,"price":"1.00"})";
    const auto t0 = Clock::now();
    auto res = client.post("/orders/" + order_id + "/items", body);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (res.status != 200) ++r.errors;
  }
  std::sort(ms.begin(), ms.end());
  r.p50_ms = ms[ms.size() / 2];
  r.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  return r;
}

void bulk_stream(const std::string& url, const std::string& id, int events) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec_params(
      "INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
      "SELECT gen_random_uuid(), $1, 1, 'OrderCreated', 1, "
      "       jsonb_build_object('order_id', $1::text, 'customer_id', 'c-long') "
      "UNION ALL "
      "SELECT gen_random_uuid(), $1, v, 'OrderItemAdded', 2, "
      "       jsonb_build_object('product_id', 'p-' || (v % 50), 'quantity', 1, 'price_cents', "
      "100) "
      "  FROM generate_series(2, $2::int) v",
      id, events);
  tx.commit();
}

Result run_case(PgServer& pg, const char* label, const char* snapshot_every, bool long_stream,
                int events, int commands) {
  const std::string url = pg.create_database(std::string("snap_") + label);
  const int port = free_port();
  auto ws = start_service(write_side_binary(), {},
                          {{"DATABASE_URL", url},
                           {"WRITE_PORT", std::to_string(port)},
                           {"RELAY_ENABLED", "off"},
                           {"CACHE_SIZE", "0"},
                           {"SNAPSHOT_EVERY", snapshot_every},
                           {"LOG_LEVEL", "warn"}},
                          port);
  const std::string id = std::string("order-") + label;
  if (long_stream) {
    bulk_stream(url, id, events);
  } else {
    HttpClient c("127.0.0.1", port);
    c.post("/orders", R"({"order_id":")" + id + R"(","customer_id":"c1"})");
  }
  drive(port, id, 20);  // warm-up (and, with snapshots, the first snapshot of the long stream)
  return drive(port, id, commands);
}

}  // namespace

int main(int argc, char** argv) {
  int events = 10000, commands = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--events")) events = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--commands")) commands = std::atoi(argv[i + 1]);
  }
  PgServer pg;
  const Result fresh = run_case(pg, "fresh", "100", false, 0, commands);
  const Result snap = run_case(pg, "long_snapshots", "100", true, events, commands);
  const Result full = run_case(pg, "long_no_snapshots", "0", true, events, commands);
  std::printf(
      "\nAddItem latency, 1 client, CACHE_SIZE=0 (every command loads its order), %d commands "
      "each\n",
      commands);
  std::printf("%-44s %10s %10s %8s %10s\n", "case", "p50 ms", "p99 ms", "errors", "p50/fresh");
  auto row = [&](const char* name, const Result& r) {
    std::printf("%-44s %10.2f %10.2f %8d %9.2fx\n", name, r.p50_ms, r.p99_ms, r.errors,
                r.p50_ms / fresh.p50_ms);
  };
  row("fresh order (baseline)", fresh);
  row(("long stream, " + std::to_string(events) + " events, SNAPSHOT_EVERY=100").c_str(), snap);
  row(("long stream, " + std::to_string(events) + " events, no snapshots").c_str(), full);
  std::printf("target: long stream with snapshots within 2x of the fresh order -> %s\n",
              snap.p50_ms <= 2 * fresh.p50_ms ? "met" : "NOT met");
  std::printf("reproduce: build/tests/bench/snapshots/snapshot_bench --events %d --commands %d\n",
              events, commands);
  return 0;
}
