// Fault test (guarantees 1, 2, 3): clients send a steady mix of commands while the test SIGKILLs,
// at random moments, the write-side, nats-server and the two read-side replicas, and restarts
// PostgreSQL; each is restarted. After a drain with a deadline it checks and prints:
//   sent / acknowledged / faults by kind,
//   lost       = acknowledged commands whose event is not in the event store (must be 0),
//   outbox     = drained (outbox empty, relay_state.last_published == max global_position),
//   diverged   = query-table rows unlike a fresh fold of the events table (must be 0),
//   duplicates = events applied twice: JetStream messages vs distinct event ids, and the
//                projections' applied counts vs the event count (must be 0).
// Settings: FAULT_TEST_SECONDS (default 75), FAULT_TEST_SEED (default: time), KEEP_STACK_LOGS=1.
#include <algorithm>
#include <cstdio>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "common/codec/recorded_event.hpp"
#include "tests/e2e/support/load.hpp"
#include "tests/e2e/support/stack.hpp"
#include "tests/e2e/support/verify.hpp"

namespace orders::testing::e2e {
namespace {

using namespace std::chrono_literals;

TEST(FaultTest, RandomKillsAndRestartsLoseNothingAndConverge) {
  const int seconds = env_int("FAULT_TEST_SECONDS", 75);
  const unsigned seed = static_cast<unsigned>(env_int(
      "FAULT_TEST_SEED",
      static_cast<int>(std::chrono::system_clock::now().time_since_epoch() / 1ms % 1000000)));
  std::printf("[fault] seed=%u duration=%ds (FAULT_TEST_SEED / FAULT_TEST_SECONDS)\n", seed,
              seconds);
  std::mt19937 rng(seed);
  auto between = [&rng](int lo_ms, int hi_ms) {
    return std::chrono::milliseconds(
        lo_ms + static_cast<int>(rng() % static_cast<unsigned>(hi_ms - lo_ms + 1)));
  };

  StackOptions so;
  so.read_replicas = 2;
  so.db_hint = "faults";
  Stack stack(so);
  AckLog acks;
  LoadOptions lo;
  lo.port = stack.write_port();
  lo.threads = 4;
  lo.prefix = "f";
  CommandLoad load(lo, acks);
  load.start();

  std::map<std::string, int> faults;
  std::map<std::string, int> unexpected_exits;
  // A service that died without being killed is a finding; it is counted and restarted.
  auto revive = [&] {
    if (!stack.write_process() || !stack.write_process()->running()) {
      ++unexpected_exits["write-side"];
      stack.start_write();
    }
    for (int i = 0; i < stack.read_replicas(); ++i) {
      if (!stack.read_process(i) || !stack.read_process(i)->running()) {
        ++unexpected_exits["read-side-" + std::to_string(i)];
        stack.start_read(i);
      }
    }
    if (!stack.nats().running()) {
      ++unexpected_exits["nats-server"];
      stack.nats().start();
    }
  };

  const std::vector<std::string> kinds = {"kill-write-side", "kill-nats-server", "kill-read-side",
                                          "restart-postgres"};
  std::vector<std::string> bag;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    // Pacing between faults (load shaping, not synchronization).
    std::this_thread::sleep_for(between(1500, 4000));
    revive();
    if (bag.empty()) {
      bag = kinds;
      std::shuffle(bag.begin(), bag.end(), rng);
    }
    const std::string kind = bag.back();
    bag.pop_back();
    if (kind == "kill-write-side") {
      stack.kill_write();
      std::this_thread::sleep_for(between(0, 700));
      stack.start_write();
    } else if (kind == "kill-nats-server") {
      stack.nats().kill9();
      std::this_thread::sleep_for(between(0, 1500));
      stack.nats().start();
    } else if (kind == "kill-read-side") {
      const int replica = static_cast<int>(rng() % 2);
      stack.kill_read(replica);
      std::this_thread::sleep_for(between(0, 700));
      stack.start_read(replica);
    } else {
      stack.pg().restart();
    }
    ++faults[kind];
    const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    std::printf("[fault] %s %s (acked so far %lld)\n",
                codec::format_rfc3339_us(now_us.count()).c_str(), kind.c_str(),
                static_cast<long long>(load.acked()));
    std::fflush(stdout);
  }

  load.stop();
  revive();
  const bool drained = wait_drained(stack, 90s);

  const auto loss = check_lost(stack, acks.all());
  const auto outbox = check_outbox(stack);
  const auto divergence = check_divergence(stack);
  const auto dups = check_duplicates(stack);

  std::ostringstream fault_text;
  int total_faults = 0;
  for (const auto& [k, n] : faults) {
    fault_text << " " << k << "=" << n;
    total_faults += n;
  }
  std::ostringstream exits_text;
  for (const auto& [k, n] : unexpected_exits) exits_text << " " << k << "=" << n;

  std::printf("\n===== fault test result (seed %u, %ds) =====\n", seed, seconds);
  std::printf("sent (HTTP requests)    : %lld\n", static_cast<long long>(load.sent()));
  std::printf("commands                : %lld\n", static_cast<long long>(load.commands()));
  std::printf("acknowledged (2xx)      : %lld\n", static_cast<long long>(load.acked()));
  std::printf("responses by status     : %s\n", load.describe_statuses().c_str());
  std::printf("unexpected 4xx          : %lld\n", static_cast<long long>(load.unexpected_4xx()));
  std::printf("abandoned commands      : %lld\n", static_cast<long long>(load.abandoned()));
  std::printf("faults injected         : %d:%s\n", total_faults, fault_text.str().c_str());
  std::printf("unexpected exits        :%s\n",
              exits_text.str().empty() ? " 0" : exits_text.str().c_str());
  std::printf("lost                    : %lld (position mismatches %lld)\n",
              static_cast<long long>(loss.lost), static_cast<long long>(loss.position_mismatch));
  std::printf("outbox drained          : %s (%s)\n", outbox.drained() ? "yes" : "NO",
              outbox.describe().c_str());
  std::printf("drain within deadline   : %s\n", drained ? "yes" : "NO");
  std::printf(
      "diverged                : %lld (orders %lld, customer_orders %lld, streams %lld, "
      "undecodable events %lld)\n",
      static_cast<long long>(divergence.diverged()),
      static_cast<long long>(divergence.diverged_orders),
      static_cast<long long>(divergence.diverged_customers),
      static_cast<long long>(divergence.streams),
      static_cast<long long>(divergence.undecodable_events));
  std::printf("duplicates              : %lld (%s)\n", static_cast<long long>(dups.duplicates()),
              dups.describe().c_str());
  for (const auto& e : loss.examples) std::printf("  %s\n", e.c_str());
  for (const auto& e : divergence.examples) std::printf("  %s\n", e.c_str());
  for (const auto& e : load.examples()) std::printf("  client: %s\n", e.c_str());
  if (divergence.diverged() > 0) {
    std::printf("diagnostics of the diverged orders:\n%s",
                diagnose_divergence(stack, divergence.diverged_ids).c_str());
  }
  std::printf("=============================================\n");
  std::fflush(stdout);

  EXPECT_GT(load.acked(), 100) << "the load made too little progress to prove anything";
  EXPECT_EQ(faults.size(), kinds.size()) << "every kind of fault is injected at least once";
  EXPECT_EQ(loss.lost, 0);
  EXPECT_EQ(loss.position_mismatch, 0);
  EXPECT_TRUE(drained);
  EXPECT_TRUE(outbox.drained()) << outbox.describe();
  EXPECT_EQ(divergence.diverged(), 0);
  EXPECT_EQ(divergence.undecodable_events, 0);
  EXPECT_EQ(dups.duplicates(), 0) << dups.describe();
  EXPECT_EQ(dups.bus_messages, dups.events) << "every event reaches the bus exactly once";
  EXPECT_EQ(dups.bus_sequence_mismatch, 0) << "stream sequence == global_position";
  EXPECT_EQ(load.unexpected_4xx(), 0)
      << "a retried command with its Idempotency-Key never gets a 4xx";
  EXPECT_EQ(load.abandoned(), 0);
  EXPECT_EQ(load.statuses().count(500), 0u) << "a fault yields 503 or no answer, never 500";
  EXPECT_TRUE(unexpected_exits.empty())
      << "a service died without being killed:" << exits_text.str();
}

}  // namespace
}  // namespace orders::testing::e2e
