// Postgres connection loss (issue 6, item 5): under a load of commands and queries, every backend
// of the services is killed with pg_terminate_backend, several times. The services reconnect,
// nothing acknowledged is lost, requests in flight get 503 (or their retry succeeds), never 500,
// and the relay and projectors catch up.
// Settings: PG_LOSS_ROUNDS (default 8) rounds, PG_LOSS_PACE_MS (default 1500) apart; e.g. 300
// rounds 100 ms apart to hunt races (that found a crash in the read-side's NATS client).
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/support/load.hpp"
#include "tests/e2e/support/stack.hpp"
#include "tests/e2e/support/verify.hpp"

namespace orders::testing::e2e {
namespace {

using namespace std::chrono_literals;

TEST(PgConnectionLoss, TerminatedBackendsUnderLoadReconnectLoseNothingAndNever500) {
  StackOptions so;
  so.read_replicas = 1;
  so.db_hint = "pgloss";
  Stack stack(so);

  AckLog acks;
  LoadOptions lo;
  lo.port = stack.write_port();
  lo.threads = 4;
  lo.prefix = "loss";
  CommandLoad load(lo, acks);
  load.start();

  // Queries in parallel: write-side /state and /events, read-side /orders/{id} and /orders.
  std::atomic<bool> stop_queries{false};
  std::mutex qmu;
  std::map<int, std::int64_t> query_statuses;
  std::vector<std::string> query_500s;
  std::thread queries([&] {
    HttpClient w("127.0.0.1", stack.write_port());
    HttpClient r("127.0.0.1", stack.read_port(0));
    w.set_timeout(10s);
    r.set_timeout(10s);
    for (int n = 0; !stop_queries.load(); ++n) {
      const std::string id = "loss-" + std::to_string(n % 4) + "-" + std::to_string(n % 5);
      for (auto [client, target] :
           {std::pair{&w, "/orders/" + id + "/state"}, std::pair{&w, "/orders/" + id + "/events"},
            std::pair{&r, "/orders/" + id}, std::pair{&r, std::string("/orders?limit=20")},
            std::pair{&r, std::string("/customers/cust-1")}}) {
        auto res = client->get(target);
        std::lock_guard lock(qmu);
        ++query_statuses[res.status];
        if (res.status >= 500 && res.status != 503 && query_500s.size() < 10) {
          query_500s.push_back(target + " -> " + std::to_string(res.status) + " " +
                               res.body.substr(0, 200));
        }
      }
      std::this_thread::sleep_for(5ms);
    }
  });

  ASSERT_TRUE(wait_until([&] { return load.acked() > 50; }, 30s))
      << "no progress before the faults";
  int rounds = 0;
  std::int64_t terminated = 0;
  const int max_rounds = env_int("PG_LOSS_ROUNDS", 8);
  const auto pace = std::chrono::milliseconds(env_int("PG_LOSS_PACE_MS", 1500));
  for (; rounds < max_rounds; ++rounds) {
    // A service that died is reported below.
    if (!stack.write_process()->running() || !stack.read_process(0)->running()) break;
    // Pacing between rounds (load shaping, not synchronization).
    std::this_thread::sleep_for(pace);
    terminated += stack.sql_int(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()) t");
  }
  const auto acked_at_last_fault = load.acked();
  // The load keeps running: commands after the last kill must succeed again.
  EXPECT_TRUE(wait_until([&] { return load.acked() > acked_at_last_fault + 50; }, 30s))
      << "commands do not succeed after the connection loss";
  load.stop();
  stop_queries.store(true);
  queries.join();

  HttpClient probe("127.0.0.1", stack.write_port());
  probe.set_timeout(5s);
  EXPECT_TRUE(wait_until([&] { return probe.get("/readyz").status == 200; }, 20s));
  const bool drained = wait_drained(stack, 60s);
  const auto loss = check_lost(stack, acks.all());
  const auto outbox = check_outbox(stack);
  const auto divergence = check_divergence(stack);

  std::string qtext;
  for (const auto& [s, n] : query_statuses)
    qtext += " " + std::to_string(s) + "=" + std::to_string(n);
  std::printf("\n===== postgres connection loss =====\n");
  std::printf("rounds=%d backends terminated=%lld\n", rounds, static_cast<long long>(terminated));
  std::printf("commands: sent=%lld acked=%lld statuses: %s\n", static_cast<long long>(load.sent()),
              static_cast<long long>(load.acked()), load.describe_statuses().c_str());
  std::printf("queries statuses:%s\n", qtext.c_str());
  std::printf("lost=%lld outbox: %s diverged=%lld drained=%s\n", static_cast<long long>(loss.lost),
              outbox.describe().c_str(), static_cast<long long>(divergence.diverged()),
              drained ? "yes" : "NO");
  for (const auto& e : load.examples()) std::printf("  client: %s\n", e.c_str());
  for (const auto& e : query_500s) std::printf("  query: %s\n", e.c_str());
  for (const auto& e : divergence.examples) std::printf("  %s\n", e.c_str());
  if (divergence.diverged() > 0) {
    std::printf("%s", diagnose_divergence(stack, divergence.diverged_ids).c_str());
  }
  std::fflush(stdout);

  EXPECT_GT(terminated, 0);
  EXPECT_EQ(loss.lost, 0);
  EXPECT_TRUE(drained);
  EXPECT_EQ(divergence.diverged(), 0);
  EXPECT_EQ(load.statuses().count(500), 0u) << "commands in flight get 503, not 500";
  EXPECT_TRUE(query_500s.empty()) << "queries in flight get 503, not 500";
  EXPECT_EQ(load.unexpected_4xx(), 0);
  EXPECT_EQ(load.abandoned(), 0);
  EXPECT_TRUE(stack.write_process()->running()) << "the write-side died; its log ends:\n"
                                                << log_tail(stack.write_log());
  EXPECT_TRUE(stack.read_process(0)->running()) << "the read-side died; its log ends:\n"
                                                << log_tail(stack.read_log(0));
}

}  // namespace
}  // namespace orders::testing::e2e
