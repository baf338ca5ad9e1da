// End to end: write-side (+ outbox relay) -> NATS JetStream -> read-side, with faults. Every test
// ends by comparing the query tables with a fresh fold of the event store, and the projections'
// applied-event counts with the number of events (nothing lost, nothing applied twice).
#include <set>

#include <gtest/gtest.h>

#include "common/nats/publisher.hpp"
#include "common/nats/stream_admin.hpp"
#include "tests/e2e/pipeline/pipeline_support.hpp"
#include "tests/support/read_side_support.hpp"

namespace orders::testing::pipeline {
namespace {

using namespace std::chrono_literals;
using read_side::ModelCheck;

void expect_converged(const std::string& db, std::chrono::milliseconds deadline = 30s) {
  ModelCheck c;
  const bool ok = wait_until(
      [&] {
        c = read_side::check_read_model(db);
        return c.equal() && c.applied_orders == c.events && c.applied_customers == c.events;
      },
      deadline, 200ms);
  EXPECT_TRUE(ok) << "diverged=" << c.diverged << " events=" << c.events
                  << " applied_orders=" << c.applied_orders
                  << " applied_customers=" << c.applied_customers << "\n"
                  << c.differences;
  std::printf(
      "[ figures ] events=%lld orders=%lld diverged=%lld applied(orders)=%lld "
      "applied(customers)=%lld\n",
      static_cast<long long>(c.events), static_cast<long long>(c.orders),
      static_cast<long long>(c.diverged), static_cast<long long>(c.applied_orders),
      static_cast<long long>(c.applied_customers));
}

// Every acknowledged command is visible on the read side.
void expect_acked_visible(const CommandLoad& load, int read_port) {
  HttpClient c("127.0.0.1", read_port);
  int missing = 0;
  for (const auto& [id, version] : load.acked_versions()) {
    auto r = c.get("/orders/" + id + "?min_version=" + std::to_string(version) + "&wait_ms=10000");
    if (r.status != 200) ++missing;
  }
  EXPECT_EQ(missing, 0);
}

TEST(Pipeline, SeedScenarioReachesTheReadModel) {
  PipelineStack s(1);
  HttpClient w("127.0.0.1", s.write_port());
  for (int step = 0; step < 5; ++step) {
    auto r = seed_step(w, "order-1", "customer-1", step);
    ASSERT_TRUE(r.status == 200 || r.status == 201) << step << ": " << r.status << " " << r.body;
  }
  HttpClient q("127.0.0.1", s.read_port(0));
  auto r = q.get("/orders/order-1?min_version=5&wait_ms=10000");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["status"], "Shipped");
  EXPECT_EQ(j["total_amount"], "35.00");
  EXPECT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["item_count"], 2);
  EXPECT_EQ(j["version"], 5);
  EXPECT_EQ(j["tracking_number"], "TRK123456");

  // List, pagination and the customer summary through the pipeline.
  for (int i = 0; i < 4; ++i) {
    for (int step = 0; step < 2 + i; ++step)
      seed_step(w, "o-" + std::to_string(i), "customer-1", step);
  }
  // Partitions apply independently: wait for every order.
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(q.get("/orders/o-" + std::to_string(i) + "?min_version=" + std::to_string(2 + i) +
                    "&wait_ms=10000")
                  .status,
              200);
  }
  auto page1 = q.get("/orders?customer_id=customer-1&limit=3").json();
  ASSERT_EQ(page1["orders"].size(), 3u);
  EXPECT_EQ(page1["orders"][0]["order_id"], "o-3");
  ASSERT_TRUE(page1["next"].is_string());
  auto page2 =
      q.get("/orders?customer_id=customer-1&limit=3&after=" + page1["next"].get<std::string>())
          .json();
  ASSERT_EQ(page2["orders"].size(), 2u);
  EXPECT_TRUE(page2["next"].is_null());
  auto cust = q.get("/customers/customer-1").json();
  EXPECT_EQ(cust["order_count"], 5);
  EXPECT_EQ(cust["open_orders"], 2);            // o-0, o-1 (Draft)
  EXPECT_EQ(cust["lifetime_value"], "105.00");  // order-1, o-3 (Shipped) + o-2 (Confirmed)
  expect_converged(s.db());
}

TEST(Pipeline, NatsKilledAndRestartedMidLoadLosesNothing) {
  PipelineStack s(1);
  CommandLoad load(s.write_port(), 4, "nats");
  ASSERT_TRUE(wait_until([&] { return load.acked() >= 200; }, 30s));
  s.nats().kill9();
  const auto acked_at_kill = load.acked();
  // Commands keep being acknowledged (the outbox holds them) while the bus is down.
  ASSERT_TRUE(wait_until([&] { return load.acked() >= acked_at_kill + 200; }, 30s));
  s.nats().start();
  const auto acked_at_restart = load.acked();
  ASSERT_TRUE(wait_until([&] { return load.acked() >= acked_at_restart + 200; }, 30s));
  load.stop();
  std::printf("[ figures ] acked=%lld failed=%lld\n", static_cast<long long>(load.acked()),
              static_cast<long long>(load.failed()));
  expect_acked_visible(load, s.read_port(0));
  expect_converged(s.db(), 60s);
}

TEST(Pipeline, RelayKilledWithSigkillMidLoadLosesNothingAndAppliesNothingTwice) {
  PipelineStack s(1);
  CommandLoad load(s.write_port(), 4, "relay");
  for (int round = 0; round < 2; ++round) {
    const auto before = load.acked();
    ASSERT_TRUE(wait_until([&] { return load.acked() >= before + 200; }, 30s));
    s.kill_write();
    s.start_write();
  }
  const auto after = load.acked();
  ASSERT_TRUE(wait_until([&] { return load.acked() >= after + 100; }, 30s));
  load.stop();
  std::printf("[ figures ] acked=%lld failed=%lld\n", static_cast<long long>(load.acked()),
              static_cast<long long>(load.failed()));
  expect_acked_visible(load, s.read_port(0));
  expect_converged(s.db(), 60s);
}

TEST(Pipeline, DuplicatePublishIsNotAppliedTwice) {
  PipelineStack s(1);
  HttpClient w("127.0.0.1", s.write_port());
  for (int step = 0; step < 3; ++step) seed_step(w, "dup-1", "c", step);
  HttpClient q("127.0.0.1", s.read_port(0));
  ASSERT_EQ(q.get("/orders/dup-1?min_version=3&wait_ms=10000").status, 200);
  // Publish version 2 again exactly as the relay would after a crash (same Nats-Msg-Id).
  auto& pg = shared_pg();
  auto row = pg.psql(s.db(),
                     "SELECT e.event_id, g.global_position FROM events e JOIN global_log g "
                     "ON g.position = e.position WHERE e.stream_id = 'dup-1' AND e.version = 2");
  ASSERT_FALSE(row.empty());
  const auto tab = row.find('\t');
  const std::string event_id = row.substr(0, tab);
  auto conn = nats::Connection::connect(s.nats().url(), "dup-test");
  nats::StreamAdmin admin(conn);
  nats::Publisher js(conn);
  auto msg = admin.get_message("ORDERS", std::stoull(row.substr(tab + 1)));
  ASSERT_TRUE(msg.has_value());
  const auto last_before = admin.stream_info("ORDERS")->last_seq;
  nats::OutMessage again;
  again.subject = std::string(msg->subject());
  again.data = std::string(msg->data());
  again.msg_id = event_id;
  auto ack = js.publish(again);
  EXPECT_TRUE(ack.ok);
  EXPECT_TRUE(ack.duplicate);
  EXPECT_EQ(admin.stream_info("ORDERS")->last_seq, last_before);
  // (A replay under a new message id would break the relay's stream sequence == global position
  // invariant; the projector's own duplicate skipping is covered by read_side_test.)
  seed_step(w, "dup-1", "c", 3);
  auto r = q.get("/orders/dup-1?min_version=4&wait_ms=10000");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["items"][0]["quantity"], 2);
  EXPECT_EQ(r.json()["total_amount"], "35.00");
  expect_converged(s.db());
}

TEST(Pipeline, TwoReplicasOneKilledMidStreamTheOtherTakesOverWithin10s) {
  PipelineStack s(2);
  auto owned = [&](const std::string& replica) {
    auto text =
        shared_pg().psql(s.db(), "SELECT partitions FROM read_side_replicas WHERE replica_id = '" +
                                     replica + "' AND heartbeat_at > now() - interval '3 seconds'");
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text.empty() ? 0 : static_cast<int>(std::count(text.begin(), text.end(), ',')) + 1;
  };
  ASSERT_TRUE(wait_until([&] { return owned(s.replica_id(0)) == 8 && owned(s.replica_id(1)) == 8; },
                         30s, 200ms));
  CommandLoad load(s.write_port(), 4, "replicas");
  ASSERT_TRUE(wait_until([&] { return load.acked() >= 300; }, 30s));
  s.kill_read(0);
  const auto killed = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return owned(s.replica_id(1)) == 16; }, 15s, 100ms));
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  EXPECT_LT(secs, 10.0);
  std::printf("[ figures ] takeover after kill -9 of a replica: %.2f s\n", secs);
  const auto at_takeover = load.acked();
  ASSERT_TRUE(wait_until([&] { return load.acked() >= at_takeover + 200; }, 30s));
  load.stop();
  expect_acked_visible(load, s.read_port(1));
  expect_converged(s.db(), 60s);
}

}  // namespace
}  // namespace orders::testing::pipeline
