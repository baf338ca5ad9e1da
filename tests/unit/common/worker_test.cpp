// The background-worker helpers: a stop wakes every wait at once, a Signal coalesces, Backoff grows
// to its cap.
#include "common/concurrency/worker.hpp"

#include <atomic>
#include <chrono>

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using orders::concurrency::Backoff;
using orders::concurrency::Signal;
using orders::concurrency::Worker;

TEST(Worker, StopInterruptsALongSleepAtOnce) {
  std::atomic<bool> returned_false{false};
  const auto t0 = std::chrono::steady_clock::now();
  {
    Worker w([&](std::stop_token st) { returned_false = !orders::concurrency::sleep_for(st, 1h); });
    EXPECT_TRUE(w.running());
    w.stop();
    EXPECT_FALSE(w.running());
  }
  EXPECT_TRUE(returned_false.load());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
}

TEST(Worker, SignalWakesTheWaiterAndCoalesces) {
  Signal s;
  s.notify();
  s.notify();
  std::stop_source src;
  EXPECT_TRUE(s.wait_for(src.get_token(), 0ms));   // the two notifications are one
  EXPECT_FALSE(s.wait_for(src.get_token(), 1ms));  // nothing pending any more
  std::atomic<int> woken{0};
  Worker w([&](std::stop_token st) {
    while (s.wait(st)) ++woken;
  });
  s.notify();
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (woken.load() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  EXPECT_EQ(woken.load(), 1);
  w.stop();  // a waiter blocked in wait() returns false on the stop request
  EXPECT_FALSE(w.running());
}

TEST(Worker, StartTwiceRunsOneThread) {
  std::atomic<int> started{0};
  Worker w;
  auto body = [&](std::stop_token st) {
    ++started;
    orders::concurrency::sleep_for(st, 1h);
  };
  w.start(body);
  w.start(body);
  w.stop();
  EXPECT_EQ(started.load(), 1);
}

TEST(Backoff, GrowsByTheFactorUpToTheCapAndResets) {
  Backoff b(100ms, 1000ms);
  EXPECT_EQ(b.next(), 100ms);
  EXPECT_EQ(b.next(), 200ms);
  EXPECT_EQ(b.next(), 400ms);
  EXPECT_EQ(b.next(), 800ms);
  EXPECT_EQ(b.next(), 1000ms);
  EXPECT_EQ(b.next(), 1000ms);
  b.reset();
  EXPECT_EQ(b.next(), 100ms);
}
