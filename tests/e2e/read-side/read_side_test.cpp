// The read-side service on its own: events are appended to the event store and published to
// JetStream by the test (as the write-side's relay would), the read-side binary projects and
// serves them. Every test ends by comparing the query tables with a fresh fold of the store.
#include <cctype>
#include <csignal>
#include <future>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/read_side_support.hpp"
#include "tests/support/services.hpp"

namespace orders::testing::read_side {
namespace {

using namespace std::chrono_literals;

// The value of one sample line of /metrics ("name{labels}"), 0 if absent.
double metric(HttpClient& c, const std::string& sample) {
  auto body = c.get("/metrics").body;
  auto pos = body.find("\n" + sample + " ");
  if (pos == std::string::npos) return 0;
  return std::stod(body.substr(pos + sample.size() + 2));
}

const std::string kRequeryReached = "orders_min_version_requeries_total{cause=\"reached\"}";
const std::string kRequeryWakeAll = "orders_min_version_requeries_total{cause=\"wake_all\"}";
const std::string kWaiting = "orders_min_version_waiting";

class ReadSideTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = shared_pg().create_database("read_side");
    feeder_ = std::make_unique<EventFeeder>(db_, nats_.url());
  }

  std::map<std::string, std::string> env(int port, const std::string& replica) const {
    return {{"DATABASE_URL", db_},   {"NATS_URL", nats_.url()}, {"READ_PORT", std::to_string(port)},
            {"REPLICA_ID", replica}, {"PG_POOL_SIZE", "4"},     {"LOG_LEVEL", "info"}};
  }

  std::unique_ptr<Process> start_replica(int port, const std::string& replica) {
    return start_service(read_side_binary(), {"serve"}, env(port, replica), port);
  }

  void expect_model_equal() {
    ModelCheck c;
    EXPECT_TRUE(wait_for_read_model(db_, 20s, c)) << describe(c);
  }

  std::string db_;
  NatsServer nats_;
  std::unique_ptr<EventFeeder> feeder_;
};

TEST_F(ReadSideTest, SeedScenarioIsServedAndMinVersionWaitsForTheApply) {
  const int port = free_port();
  auto rs = start_replica(port, "r1");
  HttpClient waiter("127.0.0.1", port);
  // Asked before the events exist: woken by the apply.
  auto pending = std::async(std::launch::async, [&] {
    return waiter.get("/orders/order-1?min_version=5&wait_ms=10000");
  });
  feeder_->seed("order-1", "customer-1");
  auto r = pending.get();
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["order_id"], "order-1");
  EXPECT_EQ(j["customer_id"], "customer-1");
  EXPECT_EQ(j["status"], "Shipped");
  EXPECT_EQ(j["total_amount"], "35.00");
  EXPECT_EQ(j["version"], 5);
  EXPECT_EQ(j["item_count"], 2);
  EXPECT_EQ(j["tracking_number"], "TRK123456");
  ASSERT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["items"][0]["product_id"], "product-1");
  EXPECT_EQ(j["items"][0]["quantity"], 2);
  EXPECT_EQ(j["items"][0]["price"], "10.00");
  EXPECT_EQ(j["items"][0]["line_total"], "20.00");
  EXPECT_EQ(j["items"][1]["line_total"], "15.00");
  EXPECT_TRUE(j["created_at"].is_string());
  EXPECT_EQ(j["created_at"].get<std::string>().size(), 27u);  // 2026-11-26T23:22:45.123456Z
  EXPECT_TRUE(j["confirmed_at"].is_string());
  EXPECT_TRUE(j["shipped_at"].is_string());
  EXPECT_TRUE(j["delivered_at"].is_null());

  HttpClient c("127.0.0.1", port);
  auto late = c.get("/orders/order-1?min_version=6&wait_ms=200");
  EXPECT_EQ(late.status, 503);
  EXPECT_TRUE(late.headers.count("retry-after"));
  EXPECT_EQ(c.get("/orders/unknown-order").status, 404);
  EXPECT_EQ(c.get("/orders/unknown-order?min_version=1&wait_ms=50").status, 503);
  EXPECT_EQ(c.get("/orders/bad%20id").status, 400);
  EXPECT_EQ(c.get("/orders/order-1?min_version=x").status, 400);
  EXPECT_EQ(c.get("/orders/order-1?min_version=-1").status, 400);
  EXPECT_EQ(c.get("/orders/order-1?wait_ms=1e3&min_version=1").status, 400);
  auto bad = c.get("/orders/" + std::string(129, 'a'));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.headers["content-type"], "application/problem+json");
  EXPECT_EQ(c.get("/healthz").status, 200);
  EXPECT_EQ(c.get("/readyz").status, 200);
  auto metrics = c.get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("orders_projector_events_applied_total"), std::string::npos);
  EXPECT_NE(metrics.body.find("\norders_ready 1\n"), std::string::npos);  // /readyz as a gauge
  expect_model_equal();
}

TEST_F(ReadSideTest, ListsArePaginatedNewestFirstAndCustomersSummarized) {
  const int port = free_port();
  auto rs = start_replica(port, "r1");
  for (int i = 0; i < 7; ++i) feeder_->seed("c1-order-" + std::to_string(i), "c1", 1 + i % 5);
  for (int i = 0; i < 3; ++i) feeder_->seed("c2-order-" + std::to_string(i), "c2", 4);
  HttpClient c("127.0.0.1", port);
  // Partitions apply independently: wait for every order.
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(c.get("/orders/c1-order-" + std::to_string(i) +
                    "?min_version=" + std::to_string(1 + i % 5) + "&wait_ms=10000")
                  .status,
              200);
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(
        c.get("/orders/c2-order-" + std::to_string(i) + "?min_version=4&wait_ms=10000").status,
        200);
  }

  std::vector<std::string> seen;
  std::string next;
  int pages = 0;
  do {
    auto r = c.get("/orders?customer_id=c1&limit=3" + (next.empty() ? "" : "&after=" + next));
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = r.json();
    ++pages;
    for (const auto& o : j["orders"]) {
      EXPECT_EQ(o["customer_id"], "c1");
      seen.push_back(o["order_id"]);
    }
    next = j["next"].is_null() ? "" : j["next"].get<std::string>();
  } while (!next.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 7u);
  // Newest first: created in order 0..6.
  for (int i = 0; i < 7; ++i)
    EXPECT_EQ(seen[static_cast<std::size_t>(i)], "c1-order-" + std::to_string(6 - i));

  auto all = c.get("/orders").json();
  EXPECT_EQ(all["orders"].size(), 10u);
  EXPECT_TRUE(all["next"].is_null());
  auto confirmed = c.get("/orders?status=Confirmed").json();
  for (const auto& o : confirmed["orders"]) EXPECT_EQ(o["status"], "Confirmed");
  // c1: steps 1..5 for i=0..4, then 1,2 -> statuses Draft(1,2,3,6,7th), Confirmed(i=3),
  // Shipped(i=4)
  EXPECT_EQ(confirmed["orders"].size(), 4u);  // c1-order-3 and the three c2 orders
  auto c1_draft = c.get("/orders?customer_id=c1&status=Draft").json();
  EXPECT_EQ(c1_draft["orders"].size(), 5u);

  auto s1 = c.get("/customers/c1");
  ASSERT_EQ(s1.status, 200);
  auto j1 = s1.json();
  EXPECT_EQ(j1["customer_id"], "c1");
  EXPECT_EQ(j1["order_count"], 7);
  EXPECT_EQ(j1["open_orders"], 5);
  EXPECT_EQ(j1["lifetime_value"], "70.00");  // c1-order-3 (Confirmed) + c1-order-4 (Shipped)
  auto j2 = c.get("/customers/c2").json();
  EXPECT_EQ(j2["lifetime_value"], "105.00");
  EXPECT_EQ(j2["open_orders"], 0);
  EXPECT_EQ(c.get("/customers/nobody").status, 404);
  EXPECT_EQ(c.get("/customers/bad$id").status, 400);

  EXPECT_EQ(c.get("/orders?limit=501").status, 400);
  EXPECT_EQ(c.get("/orders?limit=0").status, 400);
  EXPECT_EQ(c.get("/orders?limit=abc").status, 400);
  EXPECT_EQ(c.get("/orders?limit=500").status, 200);
  EXPECT_EQ(c.get("/orders?status=Lost").status, 400);
  EXPECT_EQ(c.get("/orders?after=garbage!").status, 400);
  EXPECT_EQ(c.get("/orders?after=djE6MTIzOg").status, 400);
  EXPECT_EQ(c.get("/orders?customer_id=").status, 400);

  auto proj = c.get("/projections");
  ASSERT_EQ(proj.status, 200);
  std::set<std::string> names;
  for (const auto& p : proj.json()) {
    names.insert(p["name"]);
    EXPECT_EQ(p["state"], "live");
    EXPECT_TRUE(p["lag_events"].is_number_integer());
    EXPECT_TRUE(p["lag_seconds"].is_number());
    EXPECT_TRUE(p["last_position"].is_number_integer());
  }
  EXPECT_EQ(names, (std::set<std::string>{"orders", "customers"}));
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& p : c.get("/projections").json()) {
          if (p["lag_events"] != 0) return false;
        }
        return true;
      },
      10s));
  expect_model_equal();
}

TEST_F(ReadSideTest, DuplicatesAreSkippedAndGapsFilledFromTheEventStore) {
  const int port = free_port();
  auto rs = start_replica(port, "r1");
  auto created = feeder_->append("dup-1", domain::OrderCreated{"dup-1", "c"});
  auto added = feeder_->append("dup-1", domain::OrderItemAdded{"p", 1, 500});
  HttpClient c("127.0.0.1", port);
  ASSERT_EQ(c.get("/orders/dup-1?min_version=2&wait_ms=10000").status, 200);
  // The same events again under new message ids (JetStream cannot de-duplicate them).
  feeder_->publish(added, "again-" + added.event_id);
  feeder_->publish(created, "again-" + created.event_id);
  // And under the same message id (JetStream de-duplicates).
  feeder_->publish(added);
  // A gap: version 3 is in the store but never published; version 4 arrives.
  feeder_->append("dup-1", domain::OrderItemAdded{"q", 2, 250}, false);
  feeder_->append("dup-1", domain::OrderConfirmed{});
  auto r = c.get("/orders/dup-1?min_version=4&wait_ms=10000");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["status"], "Confirmed");
  EXPECT_EQ(j["total_amount"], "10.00");
  EXPECT_EQ(j["items"][0]["quantity"], 1);  // not added twice
  EXPECT_EQ(j["item_count"], 2);
  // The gap was closed from the event store (one event), the replays skipped.
  auto m = c.get("/metrics").body;
  EXPECT_NE(m.find("\norders_projector_gap_filled_total 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\norders_projector_duplicates_total 2\n"), std::string::npos) << m;
  expect_model_equal();
}

TEST_F(ReadSideTest, RestartResumesFromTheDurableConsumerWithoutDoubleApply) {
  const int port = free_port();
  auto rs = start_replica(port, "r1");
  for (int i = 0; i < 20; ++i) feeder_->seed("restart-" + std::to_string(i), "c", 3);
  HttpClient c("127.0.0.1", port);
  ASSERT_EQ(c.get("/orders/restart-19?min_version=3&wait_ms=10000").status, 200);
  rs->kill9();
  for (int i = 0; i < 20; ++i) {
    feeder_->append("restart-" + std::to_string(i), domain::OrderConfirmed{});
  }
  rs = start_replica(port, "r1b");
  HttpClient c2("127.0.0.1", port);
  EXPECT_EQ(c2.get("/orders/restart-19?min_version=4&wait_ms=15000").status, 200);
  expect_model_equal();
}

TEST_F(ReadSideTest, TokensGuardQueriesAndMetricsButNotHealthChecks) {
  const int port = free_port();
  auto e = env(port, "r1");
  e["QUERY_TOKEN"] = "query-secret";
  e["ADMIN_TOKEN"] = "admin-secret";
  auto rs = start_service(read_side_binary(), {"serve"}, e, port);
  feeder_->seed("auth-1", "c", 1);
  HttpClient c("127.0.0.1", port);
  const std::map<std::string, std::string> query = {{"Authorization", "Bearer query-secret"}};
  const std::map<std::string, std::string> admin = {{"Authorization", "Bearer admin-secret"}};
  EXPECT_EQ(c.get("/orders/auth-1").status, 401);
  EXPECT_EQ(c.request("GET", "/orders/auth-1", "", {{"Authorization", "Bearer nope"}}).status, 403);
  EXPECT_EQ(c.request("GET", "/orders/auth-1?min_version=1&wait_ms=10000", "", query).status, 200);
  EXPECT_EQ(c.request("GET", "/projections", "", query).status, 200);
  EXPECT_EQ(c.get("/metrics").status, 401);
  EXPECT_EQ(c.request("GET", "/metrics", "", query).status, 403);
  EXPECT_EQ(c.request("GET", "/metrics", "", admin).status, 200);
  EXPECT_EQ(c.get("/healthz").status, 200);
  EXPECT_EQ(c.get("/readyz").status, 200);
  EXPECT_EQ(rs->log().find("query-secret"), std::string::npos);
}

TEST_F(ReadSideTest, SigtermFinishesTheCurrentBatchAndExitsZero) {
  const int port = free_port();
  auto rs = start_replica(port, "r1");
  for (int i = 0; i < 10; ++i) feeder_->seed("term-" + std::to_string(i), "c", 5);
  rs->signal(SIGTERM);
  auto code = rs->wait(15s);
  ASSERT_TRUE(code.has_value()) << "did not exit within 15 s";
  EXPECT_EQ(*code, 0) << rs->log();
  // Whatever was applied before the stop was acknowledged; the rest is applied after a restart.
  rs = start_replica(port, "r1b");
  expect_model_equal();
}

// The replica applies the batches of all its partitions together (one transaction). A poison
// batch (a gap the event store cannot fill) fails only its own partition: the group it came in is
// applied again partition by partition, the other partitions' events are applied, the poison
// partition's batch is nak'ed and retried.
TEST_F(ReadSideTest, APoisonEventIsParkedAndStallsOnlyItsOrder) {
  const int port = free_port();
  auto rs = start_replica(port, "r1");
  HttpClient c("127.0.0.1", port);
  const std::string poison_id = "poison-0";
  const int poison_partition = codec::partition_of(poison_id);
  auto created = feeder_->append(poison_id, domain::OrderCreated{poison_id, "c"}, false);
  auto poison = created;
  poison.version = 3;  // versions 1-2 of it are not in the store as 2: the gap cannot be filled
  poison.event_id = "0190a000-0000-7000-8000-00000000dead";
  feeder_->publish(poison);
  // Orders of every partition, its own included, fed while the poison batch keeps failing.
  std::vector<std::string> others;
  int same_partition = 0;
  for (int i = 0; others.size() < 48; ++i) {
    const auto id = "healthy-" + std::to_string(i);
    if (codec::partition_of(id) == poison_partition) ++same_partition;
    feeder_->seed(id, "c" + std::to_string(i % 5), 2);
    others.push_back(id);
  }
  ASSERT_GT(same_partition, 0);
  for (const auto& id : others) {
    EXPECT_EQ(c.get("/orders/" + id + "?min_version=2&wait_ms=10000").status, 200) << id;
  }
  EXPECT_TRUE(wait_until([&] { return metric(c, "orders_projector_batch_failures_total") >= 1; },
                         10s, 100ms));
  EXPECT_TRUE(wait_until([&] { return metric(c, "orders_projector_events_parked_total") >= 1; },
                         10s, 100ms));
  EXPECT_EQ(c.get("/orders/" + poison_id).status, 404);
  EXPECT_NE(rs->log().find("apply failed, will retry"), std::string::npos);
  EXPECT_NE(rs->log().find("event parked"), std::string::npos);
  const auto projections = c.get("/projections").json();
  for (const auto& p : projections) EXPECT_EQ(p["parked"], 1) << p.dump();
}

// The replica's one applier connection holds every partition lock: when it is killed, every
// partition is lost at once (no apply without the lock) and taken again; nothing is lost or
// applied twice.
TEST_F(ReadSideTest, KillingTheLockHoldingConnectionLosesAndRetakesEveryPartition) {
  const int port = free_port();
  auto e = env(port, "r1");
  e["PROJECTOR_APPLIERS"] = "1";  // one connection holds all 16 locks
  auto rs = start_service(read_side_binary(), {"serve"}, e, port);
  const std::string holders =
      "SELECT count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory' AND "
      "classid = 1381188688::oid AND objsubid = 2 AND granted";
  const std::string held =
      "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
      "classid = 1381188688::oid AND objsubid = 2 AND granted";
  auto as_int = [](std::string t) {
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    return t.empty() ? 0 : std::stoi(t);
  };
  ASSERT_TRUE(wait_until([&] { return as_int(shared_pg().psql(db_, held)) == 16; }, 20s, 100ms));
  EXPECT_EQ(as_int(shared_pg().psql(db_, holders)), 1);  // one connection holds them all

  std::atomic<bool> stop{false};
  std::atomic<int> fed{0};
  std::thread writer([&] {
    EventFeeder feeder(db_, nats_.url());
    while (!stop) {
      feeder.seed("kill-" + std::to_string(fed.load()), "c" + std::to_string(fed.load() % 7), 4);
      ++fed;
    }
  });
  ASSERT_TRUE(wait_until([&] { return fed.load() >= 20; }, 20s));
  const auto pid = shared_pg().psql(
      db_,
      "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 1381188688::oid "
      "AND objsubid = 2 AND granted LIMIT 1");
  ASSERT_FALSE(pid.empty());
  shared_pg().psql(db_, "SELECT pg_terminate_backend(" + std::to_string(as_int(pid)) + ")");
  ASSERT_TRUE(wait_until(
      [&] {
        return rs->log().find("every partition of this replica is lost") != std::string::npos;
      },
      10s, 50ms));
  ASSERT_TRUE(wait_until([&] { return fed.load() >= 50; }, 30s));
  stop = true;
  writer.join();
  EXPECT_TRUE(wait_until([&] { return as_int(shared_pg().psql(db_, held)) == 16; }, 10s, 100ms));
  EXPECT_EQ(as_int(shared_pg().psql(db_, holders)), 1);
  HttpClient c("127.0.0.1", port);
  const auto last = "kill-" + std::to_string(fed.load() - 1);
  EXPECT_EQ(c.get("/orders/" + last + "?min_version=4&wait_ms=10000").status, 200);
  expect_model_equal();
}

// Each replica owns its share of the 16 partitions; when one dies the other takes over its
// partitions within 10 s and nothing is lost or applied twice.
TEST_F(ReadSideTest, TwoReplicasShareThePartitionsAndOneTakesOverWhenTheOtherDies) {
  const int port_a = free_port();
  const int port_b = free_port();
  auto a = start_replica(port_a, "replica-a");
  auto b = start_replica(port_b, "replica-b");
  auto owned = [&](const std::string& replica) {
    auto text =
        shared_pg().psql(db_, "SELECT partitions FROM read_side_replicas WHERE replica_id = '" +
                                  replica + "' AND heartbeat_at > now() - interval '3 seconds'");
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.empty()) return 0;
    return static_cast<int>(std::count(text.begin(), text.end(), ',')) + 1;
  };
  ASSERT_TRUE(
      wait_until([&] { return owned("replica-a") == 8 && owned("replica-b") == 8; }, 20s, 200ms))
      << "a=" << owned("replica-a") << " b=" << owned("replica-b");

  std::atomic<bool> stop{false};
  std::atomic<int> fed{0};
  std::thread writer([&] {
    EventFeeder feeder(db_, nats_.url());
    while (!stop) {
      feeder.seed("two-" + std::to_string(fed.load()), "c" + std::to_string(fed.load() % 7), 5);
      ++fed;
    }
  });
  ASSERT_TRUE(wait_until([&] { return fed.load() >= 30; }, 20s));
  a->kill9();
  const auto killed = std::chrono::steady_clock::now();
  const bool took_over = wait_until([&] { return owned("replica-b") == 16; }, 15s, 100ms);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  EXPECT_TRUE(took_over);
  EXPECT_LT(secs, 10.0) << "takeover took " << secs << " s";
  std::printf("[ figures ] takeover after kill -9 of a replica: %.2f s\n", secs);
  ASSERT_TRUE(wait_until([&] { return fed.load() >= 60; }, 30s));
  stop = true;
  writer.join();
  HttpClient c("127.0.0.1", port_b);
  const auto last = "two-" + std::to_string(fed.load() - 1);
  EXPECT_EQ(c.get("/orders/" + last + "?min_version=5&wait_ms=10000").status, 200);
  expect_model_equal();
}

// A waiting GET /orders/A?min_version= is not woken (and does not query again) when batches of
// other orders are applied; the apply of A at min_version wakes it once.
TEST_F(ReadSideTest, AWaiterIsWokenOnlyByTheApplyOfItsOrder) {
  const int port = free_port();
  auto rs = start_replica(port, "r1");
  HttpClient c("127.0.0.1", port);
  feeder_->seed("wake-a", "customer-a", 1);
  ASSERT_TRUE(wait_until([&] { return c.get("/orders/wake-a").status == 200; }, 20s, 20ms));
  HttpClient waiter("127.0.0.1", port);
  auto pending = std::async(
      std::launch::async, [&] { return waiter.get("/orders/wake-a?min_version=2&wait_ms=10000"); });
  ASSERT_TRUE(wait_until([&] { return metric(c, kWaiting) == 1; }, 10s, 10ms));
  const double reached0 = metric(c, kRequeryReached);
  const double all0 = metric(c, kRequeryWakeAll);
  for (int i = 0; i < 20; ++i) feeder_->seed("wake-b" + std::to_string(i), "customer-b", 5);
  for (int i = 0; i < 20; ++i) {
    const auto path = "/orders/wake-b" + std::to_string(i);
    ASSERT_TRUE(wait_until(
        [&] {
          auto r = c.get(path);
          return r.status == 200 && r.json()["version"] == 5;
        },
        20s, 10ms))
        << path;
  }
  EXPECT_EQ(metric(c, kRequeryReached), reached0);
  EXPECT_EQ(metric(c, kRequeryWakeAll), all0);
  EXPECT_EQ(metric(c, kWaiting), 1);
  feeder_->append("wake-a", domain::OrderItemAdded{"product-1", 2, 1000});  // version 2
  auto r = pending.get();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["version"], 2);
  EXPECT_EQ(metric(c, kRequeryReached), reached0 + 1);
  EXPECT_EQ(metric(c, kWaiting), 0);
  expect_model_equal();
}

// PROJECTOR_GROUP_DELAY_MS: an applier starts a group at most once per delay unless every
// partition it holds has a batch waiting, so events of many partitions arriving together are
// applied in one or two transactions instead of one each; every one of them still becomes visible.
TEST_F(ReadSideTest, TheGroupDelayGathersBatchesOfManyPartitionsIntoOneTransaction) {
  const int port = free_port();
  auto e = env(port, "r1");
  e["PROJECTOR_APPLIERS"] = "1";
  e["PROJECTOR_GROUP_DELAY_MS"] = "1000";
  auto rs = start_service(read_side_binary(), {"serve"}, e, port);
  HttpClient c("127.0.0.1", port);
  ASSERT_TRUE(wait_until(
      [&] { return metric(c, "orders_projector_owned_partitions") == codec::kPartitions; }, 20s,
      20ms));
  feeder_->seed("group-first", "customer-g", 1);
  ASSERT_TRUE(wait_until([&] { return c.get("/orders/group-first").status == 200; }, 20s, 20ms));
  const double groups0 = metric(c, "orders_projector_batch_seconds_count");
  // One event on each of 8 different partitions, published right after a group committed.
  std::set<int> partitions = {codec::partition_of("group-first")};
  std::vector<std::string> ids;
  for (int i = 0; ids.size() < 8; ++i) {
    const std::string id = "group-" + std::to_string(i);
    if (partitions.insert(codec::partition_of(id)).second) ids.push_back(id);
  }
  for (const auto& id : ids) feeder_->seed(id, "customer-g", 1);
  for (const auto& id : ids) {
    ASSERT_TRUE(wait_until([&] { return c.get("/orders/" + id).status == 200; }, 20s, 10ms)) << id;
  }
  // One group for all 8, or two when the first event arrived just as the delay ran out.
  EXPECT_LE(metric(c, "orders_projector_batch_seconds_count") - groups0, 2);
  expect_model_equal();
}

// A lone replica does not NOTIFY its applies (nobody else listens); a second replica announces
// itself when it starts, and from then on the first one's applies reach it.
TEST_F(ReadSideTest, ALoneReplicaBroadcastsNothingUntilAnotherAnnouncesItself) {
  const std::string skipped = "orders_applied_broadcasts_skipped_total";
  const std::string heard = "orders_applied_notifications_total{kind=\"orders\"}";
  const int port_a = free_port();
  auto a = start_replica(port_a, "replica-a");
  HttpClient ca("127.0.0.1", port_a);
  int n = 0;
  // The first heartbeat count (alone) turns the broadcasts off.
  ASSERT_TRUE(wait_until(
      [&] {
        const std::string id = "lone-" + std::to_string(n++);
        feeder_->seed(id, "customer-l", 1);
        return wait_until([&] { return ca.get("/orders/" + id).status == 200; }, 20s, 10ms) &&
               metric(ca, skipped) > 0;
      },
      20s, 100ms));
  const int port_b = free_port();
  auto b = start_replica(port_b, "replica-b");
  HttpClient cb("127.0.0.1", port_b);
  // Replica a still owns partitions while b takes its share: its applies are now broadcast.
  ASSERT_TRUE(wait_until(
      [&] {
        feeder_->seed("lone-" + std::to_string(n++), "customer-l", 1);
        return metric(cb, heard) > 0;
      },
      20s, 50ms));
  expect_model_equal();
}

// A waiter on one replica is woken by the apply of another replica (NOTIFY with the order ids),
// and a replica ignores its own notifications.
TEST_F(ReadSideTest, AWaiterIsWokenByAnotherReplicasApply) {
  const int port_a = free_port();
  const int port_b = free_port();
  auto a = start_replica(port_a, "replica-a");
  auto b = start_replica(port_b, "replica-b");
  auto partitions = [&](const std::string& replica) {
    auto text =
        shared_pg().psql(db_, "SELECT partitions FROM read_side_replicas WHERE replica_id = '" +
                                  replica + "' AND heartbeat_at > now() - interval '3 seconds'");
    std::set<int> out;
    std::string num;
    for (char ch : text) {
      if (std::isdigit(static_cast<unsigned char>(ch))) {
        num += ch;
      } else if (!num.empty()) {
        out.insert(std::stoi(num));
        num.clear();
      }
    }
    if (!num.empty()) out.insert(std::stoi(num));
    return out;
  };
  ASSERT_TRUE(wait_until(
      [&] { return partitions("replica-a").size() == 8 && partitions("replica-b").size() == 8; },
      20s, 200ms));
  const auto owned_by_a = partitions("replica-a");
  std::string order;
  for (int i = 0; order.empty(); ++i) {
    auto id = "remote-" + std::to_string(i);
    if (owned_by_a.count(codec::partition_of(id))) order = id;
  }
  HttpClient cb("127.0.0.1", port_b);
  HttpClient ca("127.0.0.1", port_a);
  HttpClient waiter("127.0.0.1", port_b);
  auto pending = std::async(std::launch::async, [&] {
    return waiter.get("/orders/" + order + "?min_version=5&wait_ms=10000");
  });
  ASSERT_TRUE(wait_until([&] { return metric(cb, kWaiting) == 1; }, 10s, 10ms));
  const double reached0 = metric(cb, kRequeryReached);
  feeder_->seed(order, "customer-r", 5);
  auto r = pending.get();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["version"], 5);
  // Woken by a's notification naming the order (b does not apply that partition).
  EXPECT_EQ(partitions("replica-a"), owned_by_a);
  EXPECT_GE(metric(cb, kRequeryReached), reached0 + 1);
  EXPECT_GE(metric(cb, "orders_applied_notifications_total{kind=\"orders\"}"), 1);
  EXPECT_TRUE(wait_until(
      [&] { return metric(ca, "orders_applied_notifications_total{kind=\"own\"}") >= 1; }, 10s,
      20ms));
  expect_model_equal();
}

}  // namespace
}  // namespace orders::testing::read_side
