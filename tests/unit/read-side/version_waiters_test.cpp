// VersionWaiters wakes only the waiters of the orders an apply committed at their min_version;
// the NOTIFY payload carries those orders between replicas.
#include "read-side/read_your_writes/version_waiters.hpp"

#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "read-side/read_your_writes/applied_payload.hpp"

namespace orders::read_side {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Wake = VersionWaiters::Wake;

TEST(VersionWaiters, AppliesOfOtherOrdersOrLowerVersionsDoNotWakeAWaiter) {
  VersionWaiters n;
  VersionWaiters::Waiter w(n, "order-a", 3);
  EXPECT_EQ(n.applied({{"order-b", 7}, {"order-c", 1}}), 0u);
  EXPECT_EQ(n.applied({{"order-a", 2}}), 0u);
  EXPECT_EQ(w.wait(Clock::now() + 20ms), Wake::TimedOut);
  EXPECT_EQ(n.applied({{"order-b", 8}, {"order-a", 3}}), 1u);
  EXPECT_EQ(w.wait(Clock::now() + 5s), Wake::Reached);
  // Consumed: the next wait waits for a new wake.
  EXPECT_EQ(w.wait(Clock::now() + 20ms), Wake::TimedOut);
}

TEST(VersionWaiters, AnApplyBeforeWaitIsNotMissedAndWakesAWaitingThread) {
  VersionWaiters n;
  {
    VersionWaiters::Waiter w(n, "order-a", 1);
    n.applied({{"order-a", 1}});  // between the waiter's first query and its wait()
    EXPECT_EQ(w.wait(Clock::now() + 5s), Wake::Reached);
  }
  VersionWaiters::Waiter w(n, "order-a", 2);
  VersionWaiters::Waiter other(n, "order-a", 5);
  EXPECT_EQ(n.waiting(), 2u);
  auto waited = std::async(std::launch::async, [&] { return w.wait(Clock::now() + 10s); });
  EXPECT_EQ(n.applied({{"order-a", 4}}), 1u);  // w, not other (min_version 5)
  EXPECT_EQ(waited.get(), Wake::Reached);
  EXPECT_EQ(other.wait(Clock::now() + 20ms), Wake::TimedOut);
}

TEST(VersionWaiters, WakeAllWakesEveryWaiterToRecheck) {
  VersionWaiters n;
  VersionWaiters::Waiter a(n, "order-a", 1);
  VersionWaiters::Waiter b(n, "order-b", 1);
  n.wake_all();
  EXPECT_EQ(a.wait(Clock::now() + 5s), Wake::Recheck);
  EXPECT_EQ(b.wait(Clock::now() + 5s), Wake::Recheck);
  EXPECT_EQ(a.wait(Clock::now() + 20ms), Wake::TimedOut);
}

TEST(VersionWaiters, WaitersUnregisterOnDestruction) {
  VersionWaiters n;
  {
    VersionWaiters::Waiter a(n, "order-a", 1);
    VersionWaiters::Waiter b(n, "order-a", 1);
    EXPECT_EQ(n.waiting(), 2u);
  }
  EXPECT_EQ(n.waiting(), 0u);
  EXPECT_EQ(n.applied({{"order-a", 1}}), 0u);
}

TEST(VersionWaiters, PayloadRoundTripsAndSplitsUnderThePostgresLimit) {
  std::unordered_map<std::string, std::int64_t> orders;
  for (int i = 0; i < 1000; ++i) orders["order:" + std::to_string(i) + "-x.y_z"] = i + 1;
  auto payloads = encode_applied("tok", orders, false);
  ASSERT_GT(payloads.size(), 1u);
  std::unordered_map<std::string, std::int64_t> back;
  for (const auto& p : payloads) {
    EXPECT_LE(p.size(), kMaxAppliedPayload);
    auto d = decode_applied(p);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->token, "tok");
    EXPECT_FALSE(d->all);
    for (const auto& o : d->orders) back[o.order_id] = o.version;
  }
  EXPECT_EQ(back, orders);

  auto all = encode_applied("tok", {}, true);
  ASSERT_EQ(all.size(), 1u);
  auto d = decode_applied(all.front());
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->all);
  EXPECT_FALSE(decode_applied(""));        // an old-style empty payload: the listener wakes all
  EXPECT_FALSE(decode_applied("tok\nx"));  // truncated
  EXPECT_FALSE(decode_applied("tok\norder-1 12a\n"));
  EXPECT_NE(make_replica_token(), make_replica_token());
}

}  // namespace
}  // namespace orders::read_side
