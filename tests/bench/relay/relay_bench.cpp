// Outbox relay figures on this machine (real PostgreSQL + nats-server started here):
// 1. drain: N events preloaded in the outbox; time until all are sequenced and acknowledged by
//    JetStream (events/s);
// 2. steady: single-event transactions at a fixed rate while the relay runs; latency from the
//    writer's COMMIT returning to the message arriving at a JetStream subscriber (p50/p99).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "common/nats/stream_admin.hpp"
#include "common/pg/migrations.hpp"
#include "tests/support/nats_reader.hpp"
#include "tests/support/services.hpp"
#include "write-side/relay/outbox_relay.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t scalar(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  return tx.exec(sql)[0][0].as<std::int64_t>();
}

// Metadata as the write-side records it for a traced command (docs/design.md), so the relay
// copies and reads what it does in production.
const std::string kMetadataSql =
    "jsonb_build_object('command', 'AddItem', 'request_id', 'bench-' || md5(random()::text), "
    "'trace_id', md5(random()::text), 'span_id', substr(md5(random()::text), 1, 16), "
    "'traceparent', '00-' || md5(random()::text) || '-' || substr(md5(random()::text), 1, 16) || "
    "'-01', 'correlation_id', md5(random()::text), 'causation_id', 'bench-request')";

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  long events = 100000, rate = 2000, seconds = 5, publish_batch = 5000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--events")) events = std::stol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--rate")) rate = std::stol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::stol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--publish-batch")) publish_batch = std::stol(argv[i + 1]);
  }
  auto& pg = orders::testing::shared_pg();
  orders::testing::NatsServer nats;
  orders::log::Logger logger("relay-bench", orders::log::Level::Warn);
  orders::metrics::Registry registry;

  // ---- 1. drain a preloaded outbox
  auto url = pg.create_database("relay_bench");
  {
    pqxx::connection c(url);
    orders::pg::apply_migrations(c);
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata) "
        "SELECT gen_random_uuid(), 'order-' || (g % 1000), g / 1000 + 1, 'OrderItemAdded', 1, "
        "jsonb_build_object('product_id', 'p' || g, 'quantity', 1, 'price', '12.50'), " +
            kMetadataSql + " FROM generate_series(0, $1::bigint - 1) g",
        events);
    tx.exec("INSERT INTO outbox (position) SELECT position FROM events");
    tx.commit();
  }
  orders::relay::RelayOptions o;
  o.database_url = url;
  o.nats_url = nats.url();
  o.publish_batch = static_cast<int>(publish_batch);
  auto t0 = Clock::now();
  const double cpu0 = orders::testing::process_cpu_seconds("self");
  double seq_s = 0;
  {
    orders::relay::OutboxRelay relay(o, logger, registry);
    relay.start();
    bool seq_done = false;
    while (true) {
      auto st_seq = relay.stats().sequenced;
      if (!seq_done && st_seq >= static_cast<std::uint64_t>(events)) {
        seq_done = true;
        seq_s = std::chrono::duration<double>(Clock::now() - t0).count();
      }
      if (relay.stats().published >= static_cast<std::uint64_t>(events)) break;
      if (Clock::now() - t0 > 300s) {
        std::fprintf(stderr, "drain did not finish\n");
        return 1;
      }
      std::this_thread::sleep_for(5ms);
    }
  }
  double drain_s = std::chrono::duration<double>(Clock::now() - t0).count();
  // This process is the relay (PostgreSQL and nats-server run in their own).
  const double drain_cpu = orders::testing::process_cpu_seconds("self") - cpu0;
  std::printf(
      "relay drain: %ld events published in %.2f s = %.0f events/s (sequencing alone done at %.2f "
      "s); relay CPU %.2f s = %.1f us/event\n",
      events, drain_s, static_cast<double>(events) / drain_s, seq_s, drain_cpu,
      drain_cpu * 1e6 / static_cast<double>(events));

  // ---- 2. steady rate: commit -> JetStream subscriber latency
  auto url2 = pg.create_database("relay_bench_steady");
  {
    pqxx::connection c(url2);
    orders::pg::apply_migrations(c);
  }
  {
    auto conn = orders::nats::Connection::connect(nats.url());
    orders::nats::StreamAdmin(conn).delete_stream("ORDERS");
  }
  o.database_url = url2;
  orders::relay::OutboxRelay relay(o, logger, registry);
  relay.start();
  std::mutex mu;
  std::unordered_map<std::string, Clock::time_point> committed_at;
  std::vector<double> lat_ms;
  auto conn = orders::nats::Connection::connect(nats.url());
  orders::nats::StreamAdmin admin(conn);
  while (!relay.is_leader() || !relay.nats_connected()) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(300ms);
  orders::testing::ReaderSpec cs;
  cs.stream = "ORDERS";
  orders::testing::NatsReader sub(admin, cs);
  std::atomic<bool> reading{true};
  std::atomic<long> received{0};
  std::thread reader([&] {
    while (reading) {
      for (auto& m : sub.fetch(500, 100ms)) {
        auto now = Clock::now();
        auto id = m.header("Nats-Msg-Id").value_or("");
        std::lock_guard lock(mu);
        auto it = committed_at.find(id);
        if (it != committed_at.end()) {
          lat_ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
        }
        ++received;
      }
    }
  });
  const int writers = 8;
  long per_writer = rate * seconds / writers;
  std::vector<std::thread> ws;
  for (int w = 0; w < writers; ++w) {
    ws.emplace_back([&, w] {
      pqxx::connection c(url2);
      c.prepare("ev",
                "INSERT INTO events (event_id, stream_id, version, type, schema_version, data, "
                "metadata) VALUES (gen_random_uuid(), $1, $2, 'OrderItemAdded', 1, '{}', " +
                    kMetadataSql + ") RETURNING position, event_id::text");
      c.prepare("ob", "INSERT INTO outbox (position) VALUES ($1)");
      auto start = Clock::now();
      auto interval =
          std::chrono::duration<double>(static_cast<double>(writers) / static_cast<double>(rate));
      for (long i = 0; i < per_writer; ++i) {
        auto due =
            start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(i));
        std::this_thread::sleep_until(due);  // pacing the load generator, not synchronization
        pqxx::work tx(c);
        auto r = tx.exec_prepared("ev", "w" + std::to_string(w), i + 1);
        tx.exec_prepared("ob", r[0][0].as<std::int64_t>());
        auto id = r[0][1].as<std::string>();
        tx.commit();
        std::lock_guard lock(mu);
        committed_at[id] = Clock::now();
      }
    });
  }
  for (auto& t : ws) t.join();
  auto total = per_writer * writers;
  auto until = Clock::now() + 30s;
  while (received < total && Clock::now() < until) std::this_thread::sleep_for(10ms);
  reading = false;
  reader.join();
  std::lock_guard lock(mu);
  std::printf(
      "relay steady %ld events/s for %ld s: %zu delivered, commit->subscriber latency p50 %.2f ms, "
      "p99 %.2f ms, max %.2f ms\n",
      rate, seconds, lat_ms.size(), pct(lat_ms, 0.5), pct(lat_ms, 0.99), pct(lat_ms, 1.0));
  (void)scalar;
  return 0;
}
