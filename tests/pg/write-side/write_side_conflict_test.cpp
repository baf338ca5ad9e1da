// Two write-side instances on one database: each caches aggregates, so each sees the other's writes
// only through the unique (stream_id, version) key. Group commit must keep every command
// all-or-nothing: a stale stream is re-run on fresh state, the other commands of the same batch
// commit untouched, and no stream ever gets a gap, a duplicate version or an orphan outbox row.
#include <iostream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/write_side_fixture.hpp"

namespace orders::testing::ws {
namespace {

using nlohmann::json;

class TwoInstances : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = WriteSide::start();
    b_ = WriteSide::start(a_->db_url);
  }
  // Every stream's versions are exactly 1..n, and every event has its outbox row.
  void expect_store_consistent() {
    EXPECT_EQ(a_->count("SELECT count(*) FROM (SELECT stream_id FROM events GROUP BY stream_id "
                        "HAVING max(version) <> count(*) OR min(version) <> 1) x"),
              0);
    EXPECT_EQ(a_->events(), a_->outbox());
    EXPECT_EQ(
        a_->count("SELECT count(*) FROM events e LEFT JOIN outbox o ON o.position = e.position "
                  "WHERE o.position IS NULL"),
        0);
  }
  std::unique_ptr<WriteSide> a_, b_;
};

TEST_F(TwoInstances, StaleCacheIsDetectedAndReRunWithoutHurtingTheBatch) {
  auto ca = a_->client();
  auto cb = b_->client();
  ASSERT_EQ(ca.post("/orders", create_body("shared-1")).status, 201);  // A caches version 1
  ASSERT_EQ(cb.post("/orders/shared-1/items", item_body("from-b", 1, "1.00")).status,
            200);  // v2 by B

  // A gets the stale stream's command together with commands on other orders (same batches).
  std::vector<std::string> others;
  for (int i = 0; i < 30; ++i) {
    others.push_back("other-" + std::to_string(i));
    ASSERT_EQ(ca.post("/orders", create_body(others.back())).status, 201);
  }
  std::vector<int> statuses(others.size(), 0);
  int stale_status = 0;
  long long stale_version = 0;
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < others.size(); ++i) {
    threads.emplace_back([&, i] {
      auto c = a_->client();
      statuses[i] = c.post("/orders/" + others[i] + "/items", item_body("x", 1, "1.00")).status;
    });
  }
  threads.emplace_back([&] {
    auto c = a_->client();
    auto r = c.post("/orders/shared-1/items", item_body("from-a", 1, "1.00"));
    stale_status = r.status;
    if (r.status == 200) stale_version = r.json()["version"];
  });
  for (auto& t : threads) t.join();
  for (int s : statuses) EXPECT_EQ(s, 200);
  EXPECT_EQ(stale_status, 200);
  EXPECT_EQ(stale_version, 3);
  EXPECT_EQ(a_->events_of("shared-1"), 3);
  // The stale stream really went through the conflict path (not a lucky cache miss).
  auto metrics = ca.get("/metrics").body;
  const std::string sample = "\norders_stream_conflicts_total ";
  auto at = metrics.find(sample);
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stod(metrics.substr(at + sample.size())), 1.0);

  // A's cache (now fresh at 3) is stale again after B writes; If-Match against the stale
  // version is a real mismatch: 412.
  ASSERT_EQ(cb.post("/orders/shared-1/items", item_body("from-b", 1, "1.00")).status, 200);  // v4
  auto r412 = ca.post("/orders/shared-1/items", item_body("y", 1, "1.00"), {{"If-Match", "\"3\""}});
  EXPECT_EQ(r412.status, 412) << r412.body;
  auto r200 = ca.post("/orders/shared-1/items", item_body("y", 1, "1.00"), {{"If-Match", "\"4\""}});
  EXPECT_EQ(r200.status, 200) << r200.body;

  // A rejection decided on a stale cache is verified too: A believes the order has no items...
  ASSERT_EQ(ca.post("/orders", create_body("shared-2")).status, 201);
  ASSERT_EQ(cb.post("/orders/shared-2/items", item_body("z", 1, "1.00")).status, 200);
  // ...but B added one, so confirming through A succeeds instead of a wrong 409.
  auto confirm = ca.post("/orders/shared-2/confirm", "");
  EXPECT_EQ(confirm.status, 200) << confirm.body;
  EXPECT_EQ(confirm.json()["version"], 3);
  // And a stale "does not exist" is verified: A answers 404 (and caches that), B creates, then A
  // must not answer 404 again from its cache.
  EXPECT_EQ(ca.post("/orders/shared-3/items", item_body("z", 1, "1.00")).status, 404);
  ASSERT_EQ(cb.post("/orders", create_body("shared-3")).status, 201);
  EXPECT_EQ(ca.post("/orders/shared-3/items", item_body("z", 1, "1.00")).status, 200);
  // A stale "exists" for create: A caches nothing about shared-4; B created it; A's create is 409.
  ASSERT_EQ(cb.post("/orders", create_body("shared-4")).status, 201);
  EXPECT_EQ(ca.post("/orders", create_body("shared-4")).status, 409);
  expect_store_consistent();
}

TEST_F(TwoInstances, ConcurrentWritersOnSharedOrdersLoseNothing) {
  constexpr int kOrders = 4;
  constexpr int kThreadsPerInstance = 8;
  constexpr int kCommandsPerThread = 40;
  {
    auto c = a_->client();
    for (int o = 0; o < kOrders; ++o)
      ASSERT_EQ(c.post("/orders", create_body("hot-" + std::to_string(o))).status, 201);
  }
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int inst = 0; inst < 2; ++inst) {
    for (int t = 0; t < kThreadsPerInstance; ++t) {
      threads.emplace_back([&, inst, t] {
        auto c = (inst == 0 ? a_ : b_)->client();
        for (int i = 0; i < kCommandsPerThread; ++i) {
          const std::string order = "hot-" + std::to_string((t + i) % kOrders);
          const std::string product =
              "p-" + std::to_string(inst) + "-" + std::to_string(t) + "-" + std::to_string(i);
          auto r = c.post("/orders/" + order + "/items", item_body(product, 1, "1.00"));
          if (r.status == 200) {
            ++ok;
          } else {
            ++failed;
            ADD_FAILURE() << order << ": " << r.status << " " << r.body;
          }
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  // How often a stale cache was caught and how many runs commands took: figures to compare builds
  // by (a command that gave up shows in the failures above), not pass criteria.
  for (auto* w : {a_.get(), b_.get()}) {
    std::istringstream metrics(w->client().get("/metrics").body);
    for (std::string line; std::getline(metrics, line);) {
      if (line.rfind("orders_stream_conflicts_total ", 0) == 0 ||
          line.rfind("orders_command_attempts_bucket", 0) == 0)
        std::cout << (w == a_.get() ? "A " : "B ") << line << "\n";
    }
  }
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(ok.load(), 2 * kThreadsPerInstance * kCommandsPerThread);
  EXPECT_EQ(a_->events(), kOrders + ok.load());
  expect_store_consistent();
  // Both instances serve the same final state.
  for (int o = 0; o < kOrders; ++o) {
    const std::string id = "hot-" + std::to_string(o);
    auto sa = a_->client().get("/orders/" + id + "/state").json();
    auto sb = b_->client().get("/orders/" + id + "/state").json();
    EXPECT_EQ(sa, sb);
    EXPECT_EQ(sa["version"].get<long long>(), a_->events_of(id));
  }
}

TEST_F(TwoInstances, SameIdempotencyKeyOnBothInstancesAppendsOnce) {
  ASSERT_EQ(a_->client().post("/orders", create_body("idem-shared")).status, 201);
  ASSERT_EQ(b_->client().get("/orders/idem-shared/state").status, 200);
  std::vector<HttpResult> results(12);
  std::vector<std::thread> threads;
  threads.reserve(12);
  for (int i = 0; i < 12; ++i) {
    threads.emplace_back([&, i] {
      auto c = (i % 2 == 0 ? a_ : b_)->client();
      results[i] = c.post("/orders/idem-shared/items", item_body("k", 2, "4.00"),
                          {{"Idempotency-Key", "shared-key-1"}});
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body), json::parse(results[0].body));
  }
  EXPECT_EQ(a_->events_of("idem-shared"), 2);
  expect_store_consistent();
}

}  // namespace
}  // namespace orders::testing::ws
