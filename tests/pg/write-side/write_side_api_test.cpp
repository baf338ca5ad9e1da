// The write-side HTTP contract against a real PostgreSQL: the seed scenario, every rule violation,
// bad input per endpoint (nothing appended), concurrency, If-Match, Idempotency-Key, time travel,
// the audit trail, snapshots, and the `migrate` subcommand.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "tests/support/write_side_fixture.hpp"

namespace orders::testing::ws {
namespace {

using nlohmann::json;

class WriteSideApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ws_ = WriteSide::start().release(); }
  static void TearDownTestSuite() {
    delete ws_;
    ws_ = nullptr;
  }
  static WriteSide* ws_;

  // Creates an order with the given items (product, quantity, price); returns its id.
  std::string make_order(const std::vector<std::tuple<std::string, int, std::string>>& items = {}) {
    auto c = ws_->client();
    std::string id = unique_id("order");
    auto r = c.post("/orders", create_body(id));
    EXPECT_EQ(r.status, 201) << r.body;
    for (const auto& [p, q, price] : items) {
      auto a = c.post("/orders/" + id + "/items", item_body(p, q, price));
      EXPECT_EQ(a.status, 200) << a.body;
    }
    return id;
  }
};
WriteSide* WriteSideApi::ws_ = nullptr;

void expect_problem(const HttpResult& r, int status) {
  EXPECT_EQ(r.status, status) << r.body;
  auto it = r.headers.find("content-type");
  ASSERT_NE(it, r.headers.end());
  EXPECT_NE(it->second.find("application/problem+json"), std::string::npos);
  auto j = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j.value("status", 0), status);
  EXPECT_TRUE(j.contains("type") && j.contains("title") && j.contains("detail")) << r.body;
  // The instance names the request (docs/http-api.md, "Errors"); every response has a Date.
  const auto rid = r.headers.find("x-request-id");
  ASSERT_NE(rid, r.headers.end());
  EXPECT_EQ(j.value("instance", ""), "urn:request:" + rid->second) << r.body;
  EXPECT_TRUE(r.headers.count("date")) << r.body;
}

TEST_F(WriteSideApi, SeedScenarioEndsAtVersion5WithTotal35) {
  auto c = ws_->client();
  const std::string id = unique_id("seed");
  auto r = c.post("/orders", create_body(id, "customer-1"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers["location"], "/orders/" + id);
  EXPECT_EQ(r.json()["version"], 1);
  EXPECT_EQ(c.post("/orders/" + id + "/items", item_body("product-1", 2, "10.00")).status, 200);
  EXPECT_EQ(
      c.post("/orders/" + id + "/items", R"({"product_id":"product-2","quantity":1,"price":15.00})")
          .status,
      200);
  EXPECT_EQ(c.post("/orders/" + id + "/confirm", "").status, 200);
  auto ship = c.post("/orders/" + id + "/ship", R"({"tracking_number":"TRK123456"})");
  ASSERT_EQ(ship.status, 200) << ship.body;
  auto sj = ship.json();
  EXPECT_EQ(sj["order_id"], id);
  EXPECT_EQ(sj["version"], 5);
  EXPECT_TRUE(sj["position"].is_number_integer());

  auto st = c.get("/orders/" + id + "/state");
  ASSERT_EQ(st.status, 200) << st.body;
  auto s = st.json();
  EXPECT_EQ(s["status"], "Shipped");
  EXPECT_EQ(s["total_amount"], "35.00");
  EXPECT_EQ(s["version"], 5);
  EXPECT_EQ(s["customer_id"], "customer-1");
  ASSERT_EQ(s["items"].size(), 2u);
  EXPECT_EQ(s["items"][0]["product_id"], "product-1");
  EXPECT_EQ(s["items"][0]["quantity"], 2);
  EXPECT_EQ(s["items"][0]["price"], "10.00");
  EXPECT_EQ(ws_->events_of(id), 5);
  // Every event has its outbox row (RELAY_ENABLED=off: nothing drains it).
  EXPECT_EQ(ws_->count("SELECT count(*) FROM events e JOIN outbox o ON o.position = e.position "
                       "WHERE e.stream_id = '" +
                       id + "'"),
            5);

  auto deliver = c.post("/orders/" + id + "/deliver", "");
  EXPECT_EQ(deliver.status, 200);
  EXPECT_EQ(deliver.json()["version"], 6);
}

TEST_F(WriteSideApi, GeneratedOrderIdIsAUuid) {
  auto c = ws_->client();
  auto r = c.post("/orders", R"({"customer_id":"c-9"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = r.json()["order_id"];
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  EXPECT_EQ(r.headers["location"], "/orders/" + id);
  EXPECT_EQ(c.get("/orders/" + id + "/state").status, 200);
}

TEST_F(WriteSideApi, EveryRuleViolationIsRejectedAndAppendsNothing) {
  auto c = ws_->client();
  const std::string draft_empty = make_order();
  const std::string draft = make_order({{"p-1", 1, "5.00"}});
  const std::string confirmed = make_order({{"p-1", 1, "5.00"}});
  ASSERT_EQ(c.post("/orders/" + confirmed + "/confirm", "").status, 200);
  const std::string shipped = make_order({{"p-1", 1, "5.00"}});
  ASSERT_EQ(c.post("/orders/" + shipped + "/confirm", "").status, 200);
  ASSERT_EQ(c.post("/orders/" + shipped + "/ship", R"({"tracking_number":"T-1"})").status, 200);
  const std::string delivered = make_order({{"p-1", 1, "5.00"}});
  ASSERT_EQ(c.post("/orders/" + delivered + "/confirm", "").status, 200);
  ASSERT_EQ(c.post("/orders/" + delivered + "/ship", R"({"tracking_number":"T-1"})").status, 200);
  ASSERT_EQ(c.post("/orders/" + delivered + "/deliver", "").status, 200);

  struct Case {
    std::string name, method, target, body;
    int status;
  };
  const std::vector<Case> cases = {
      {"create existing", "POST", "/orders", create_body(draft), 409},
      {"add to unknown", "POST", "/orders/nope-1/items", item_body("p", 1, "1.00"), 404},
      {"remove from unknown", "DELETE", "/orders/nope-1/items/p", "", 404},
      {"confirm unknown", "POST", "/orders/nope-1/confirm", "", 404},
      {"ship unknown", "POST", "/orders/nope-1/ship", R"({"tracking_number":"T"})", 404},
      {"deliver unknown", "POST", "/orders/nope-1/deliver", "", 404},
      {"add to confirmed", "POST", "/orders/" + confirmed + "/items", item_body("p", 1, "1.00"),
       409},
      {"add to shipped", "POST", "/orders/" + shipped + "/items", item_body("p", 1, "1.00"), 409},
      {"remove on confirmed", "DELETE", "/orders/" + confirmed + "/items/p-1", "", 409},
      {"remove not in order", "DELETE", "/orders/" + draft + "/items/p-404", "", 404},
      {"same product other price", "POST", "/orders/" + draft + "/items",
       item_body("p-1", 1, "5.01"), 409},
      {"confirm without items", "POST", "/orders/" + draft_empty + "/confirm", "", 409},
      {"confirm twice", "POST", "/orders/" + confirmed + "/confirm", "", 409},
      {"ship draft", "POST", "/orders/" + draft + "/ship", R"({"tracking_number":"T"})", 409},
      {"ship shipped", "POST", "/orders/" + shipped + "/ship", R"({"tracking_number":"T"})", 409},
      {"deliver draft", "POST", "/orders/" + draft + "/deliver", "", 409},
      {"deliver confirmed", "POST", "/orders/" + confirmed + "/deliver", "", 409},
      {"deliver delivered", "POST", "/orders/" + delivered + "/deliver", "", 409},
      // 409 (status) is checked before the item (404)
      {"remove unknown item on confirmed", "DELETE", "/orders/" + confirmed + "/items/p-404", "",
       409},
  };
  const long long before = ws_->events();
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    expect_problem(c.request(tc.method, tc.target, tc.body), tc.status);
  }
  EXPECT_EQ(ws_->events(), before);
}

TEST_F(WriteSideApi, BadInputPerEndpointIs4xxAndAppendsNothing) {
  auto c = ws_->client();
  const std::string id = make_order({{"p-1", 1, "5.00"}});
  const std::string items = "/orders/" + id + "/items";
  const std::string long_id(129, 'a');
  struct Case {
    std::string name, method, target, body;
    int status;
    std::map<std::string, std::string> headers = {};
  };
  std::vector<Case> cases = {
      // POST /orders
      {"create malformed", "POST", "/orders", "{\"customer_id\":", 400},
      {"create empty body", "POST", "/orders", "", 400},
      {"create array", "POST", "/orders", "[1]", 400},
      {"create no customer", "POST", "/orders", "{}", 400},
      {"create customer number", "POST", "/orders", R"({"customer_id":5})", 400},
      {"create empty customer", "POST", "/orders", R"({"customer_id":""})", 400},
      {"create long order id", "POST", "/orders", create_body(long_id), 400},
      {"create odd order id", "POST", "/orders", R"({"order_id":"a b","customer_id":"c"})", 400},
      {"create slash order id", "POST", "/orders", R"({"order_id":"a/b","customer_id":"c"})", 400},
      {"create unicode id", "POST", "/orders",
       "{\"order_id\":\"caf\xc3\xa9\",\"customer_id\":\"c\"}", 400},
      {"create order id number", "POST", "/orders", R"({"order_id":7,"customer_id":"c"})", 400},
      {"create duplicate keys", "POST", "/orders", R"({"customer_id":"a","customer_id":"b"})", 400},
      // POST /orders/{id}/items
      {"add malformed", "POST", items, "{\"product_id\":\"p\",", 400},
      {"add quantity 0", "POST", items, R"({"product_id":"p","quantity":0,"price":"1.00"})", 400},
      {"add quantity -1", "POST", items, R"({"product_id":"p","quantity":-1,"price":"1.00"})", 400},
      {"add quantity 1.5", "POST", items, R"({"product_id":"p","quantity":1.5,"price":"1.00"})",
       400},
      {"add quantity huge", "POST", items,
       R"({"product_id":"p","quantity":1000001,"price":"1.00"})", 400},
      {"add quantity 2^63", "POST", items,
       R"({"product_id":"p","quantity":9223372036854775808,"price":"1"})", 400},
      {"add quantity string", "POST", items, R"({"product_id":"p","quantity":"1","price":"1.00"})",
       400},
      {"add no quantity", "POST", items, R"({"product_id":"p","price":"1.00"})", 400},
      {"add price -1", "POST", items, R"({"product_id":"p","quantity":1,"price":-1})", 400},
      {"add price 10.001", "POST", items, R"({"product_id":"p","quantity":1,"price":"10.001"})",
       400},
      {"add price 10.001 number", "POST", items,
       R"({"product_id":"p","quantity":1,"price":10.001})", 400},
      {"add price abc", "POST", items, R"({"product_id":"p","quantity":1,"price":"abc"})", 400},
      {"add price too big", "POST", items,
       R"({"product_id":"p","quantity":1,"price":"1000000.01"})", 400},
      {"add price bool", "POST", items, R"({"product_id":"p","quantity":1,"price":true})", 400},
      {"add no price", "POST", items, R"({"product_id":"p","quantity":1})", 400},
      {"add empty product", "POST", items, R"({"product_id":"","quantity":1,"price":"1"})", 400},
      {"add long product", "POST", items, item_body(long_id, 1, "1.00"), 400},
      {"add odd product", "POST", items, item_body("p$1", 1, "1.00"), 400},
      {"add long order id", "POST", "/orders/" + long_id + "/items", item_body("p", 1, "1.00"),
       400},
      {"add odd order id", "POST", "/orders/a%20b/items", item_body("p", 1, "1.00"), 400},
      // DELETE /orders/{id}/items/{product_id}
      {"remove long product", "DELETE", items + "/" + long_id, "", 400},
      {"remove odd product", "DELETE", items + "/p%24", "", 400},
      {"remove odd order", "DELETE", "/orders/a%2Fb/items/p-1", "", 400},
      // confirm / deliver
      {"confirm malformed", "POST", "/orders/" + id + "/confirm", "{", 400},
      {"confirm odd id", "POST", "/orders/%C3%A9/confirm", "", 400},
      {"deliver malformed", "POST", "/orders/" + id + "/deliver", "nope", 400},
      {"deliver long id", "POST", "/orders/" + long_id + "/deliver", "", 400},
      // ship
      {"ship empty body", "POST", "/orders/" + id + "/ship", "", 400},
      {"ship no tracking", "POST", "/orders/" + id + "/ship", "{}", 400},
      {"ship tracking number", "POST", "/orders/" + id + "/ship", R"({"tracking_number":12})", 400},
      {"ship odd tracking", "POST", "/orders/" + id + "/ship", R"({"tracking_number":"a b"})", 400},
      // headers
      {"bad If-Match", "POST", items, item_body("p", 1, "1.00"), 400, {{"If-Match", "\"abc\""}}},
      {"negative If-Match", "POST", items, item_body("p", 1, "1.00"), 400, {{"If-Match", "-1"}}},
      {"long Idempotency-Key",
       "POST",
       items,
       item_body("p", 1, "1.00"),
       400,
       {{"Idempotency-Key", std::string(300, 'k')}}},
      // body over the limit (1 MiB)
      {"body over limit", "POST", "/orders",
       "{\"customer_id\":\"c\",\"pad\":\"" + std::string(1024 * 1024 + 10, 'x') + "\"}", 413},
  };
  const long long before = ws_->events();
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto fresh = ws_->client();  // a 413 closes the connection
    auto r = fresh.request(tc.method, tc.target, tc.body, tc.headers);
    EXPECT_EQ(r.status, tc.status) << r.body;
    if (tc.status != 413) expect_problem(r, tc.status);
  }
  EXPECT_EQ(ws_->events(), before);
  // The service still answers.
  EXPECT_EQ(c.get("/healthz").status, 200);
}

TEST_F(WriteSideApi, MoneyIsExact) {
  auto c = ws_->client();
  const std::string id = make_order();
  EXPECT_EQ(
      c.post("/orders/" + id + "/items", R"({"product_id":"a","quantity":3,"price":10.1})").status,
      200);
  // "10.10" and "10.100" are the same price as 10.1: merged into one line
  EXPECT_EQ(c.post("/orders/" + id + "/items", R"({"product_id":"a","quantity":1,"price":"10.10"})")
                .status,
            200);
  EXPECT_EQ(
      c.post("/orders/" + id + "/items", R"({"product_id":"a","quantity":1,"price":"10.100"})")
          .status,
      200);
  EXPECT_EQ(
      c.post("/orders/" + id + "/items", R"({"product_id":"b","quantity":1,"price":0.07})").status,
      200);
  auto s = c.get("/orders/" + id + "/state").json();
  EXPECT_EQ(s["items"][0]["quantity"], 5);
  EXPECT_EQ(s["items"][0]["price"], "10.10");
  EXPECT_EQ(s["total_amount"], "50.57");
}

TEST_F(WriteSideApi, TwentyConcurrentAddItemsOnOneOrderAllSucceedWithVersions2To21) {
  const std::string id = make_order();
  std::vector<int> statuses(20, 0);
  std::vector<long long> versions(20, 0);
  std::vector<std::thread> threads;
  threads.reserve(20);
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      auto c = ws_->client();
      auto r = c.post("/orders/" + id + "/items", item_body("p-" + std::to_string(i), 1, "1.00"));
      statuses[i] = r.status;
      if (r.status == 200) versions[i] = r.json()["version"].get<long long>();
    });
  }
  for (auto& t : threads) t.join();
  for (int s : statuses) EXPECT_EQ(s, 200);
  std::sort(versions.begin(), versions.end());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(versions[i], i + 2);
  EXPECT_EQ(ws_->events_of(id), 21);
  auto s = ws_->client().get("/orders/" + id + "/state").json();
  EXPECT_EQ(s["version"], 21);
  EXPECT_EQ(s["items"].size(), 20u);
}

TEST_F(WriteSideApi, IfMatchAppendsOnlyAtThatVersion) {
  auto c = ws_->client();
  const std::string id = make_order();
  auto ok = c.post("/orders/" + id + "/items", item_body("a", 1, "1.00"), {{"If-Match", "\"1\""}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  auto stale =
      c.post("/orders/" + id + "/items", item_body("b", 1, "1.00"), {{"If-Match", "\"1\""}});
  expect_problem(stale, 412);
  auto ahead =
      c.post("/orders/" + id + "/items", item_body("b", 1, "1.00"), {{"If-Match", "\"7\""}});
  expect_problem(ahead, 412);
  auto bare = c.post("/orders/" + id + "/items", item_body("b", 1, "1.00"), {{"If-Match", "2"}});
  EXPECT_EQ(bare.status, 200) << bare.body;
  EXPECT_EQ(bare.json()["version"], 3);
  auto del = c.request("DELETE", "/orders/" + id + "/items/a", "", {{"If-Match", "\"2\""}});
  expect_problem(del, 412);
  EXPECT_EQ(ws_->events_of(id), 3);
  // Unknown order: 404 comes before the version check.
  expect_problem(c.post("/orders/nope-2/confirm", "", {{"If-Match", "\"3\""}}), 404);

  // Concurrent If-Match on the same version: exactly one wins.
  std::vector<int> statuses(8, 0);
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto cc = ws_->client();
      statuses[i] = cc.post("/orders/" + id + "/items",
                            item_body("x" + std::to_string(i), 1, "1.00"), {{"If-Match", "\"3\""}})
                        .status;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 412), 7);
  EXPECT_EQ(ws_->events_of(id), 4);
}

TEST_F(WriteSideApi, IdempotencyKeyReplaysTheFirstResponse) {
  auto c = ws_->client();
  const long long before = ws_->events();
  const std::string key = unique_id("key");
  auto first = c.post("/orders", R"({"customer_id":"c-idem"})", {{"Idempotency-Key", key}});
  ASSERT_EQ(first.status, 201) << first.body;
  auto again = c.post("/orders", R"({"customer_id":"c-idem"})", {{"Idempotency-Key", key}});
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(json::parse(again.body), json::parse(first.body));
  EXPECT_EQ(again.headers["location"], first.headers["location"]);
  EXPECT_EQ(ws_->events(), before + 1);

  // Another body or another endpoint with the same key: 422, nothing appended.
  expect_problem(c.post("/orders", R"({"customer_id":"c-other"})", {{"Idempotency-Key", key}}),
                 422);
  const std::string id = first.json()["order_id"];
  expect_problem(c.post("/orders/" + id + "/confirm", "", {{"Idempotency-Key", key}}), 422);
  EXPECT_EQ(ws_->events(), before + 1);

  // A 4xx is replayed too, even after the state changed.
  const std::string k2 = unique_id("key");
  auto rejected = c.post("/orders/" + id + "/confirm", "", {{"Idempotency-Key", k2}});
  expect_problem(rejected, 409);
  ASSERT_EQ(c.post("/orders/" + id + "/items", item_body("a", 1, "2.00")).status, 200);
  auto replay = c.post("/orders/" + id + "/confirm", "", {{"Idempotency-Key", k2}});
  EXPECT_EQ(replay.status, 409);
  EXPECT_EQ(replay.body, rejected.body);
  EXPECT_EQ(ws_->events_of(id), 2);

  // Concurrent retries of one keyed command: one append, every answer identical.
  const std::string k3 = unique_id("key");
  std::vector<HttpResult> results(10);
  std::vector<std::thread> threads;
  threads.reserve(10);
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back([&, i] {
      auto cc = ws_->client();
      results[i] =
          cc.post("/orders/" + id + "/items", item_body("b", 1, "3.00"), {{"Idempotency-Key", k3}});
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body), json::parse(results[0].body));
  }
  EXPECT_EQ(ws_->events_of(id), 3);
  EXPECT_EQ(ws_->count("SELECT count(*) FROM idempotency_keys WHERE key = '" + k3 + "'"), 1);
}

TEST_F(WriteSideApi, TimeTravelByVersionAndByTime) {
  auto c = ws_->client();
  const std::string id = make_order({{"a", 1, "1.00"}, {"b", 2, "2.00"}});
  ASSERT_EQ(c.post("/orders/" + id + "/confirm", "").status, 200);
  for (int v = 1; v <= 4; ++v) {
    auto r = c.get("/orders/" + id + "/state?version=" + std::to_string(v));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["version"], v);
  }
  EXPECT_EQ(c.get("/orders/" + id + "/state?version=2").json()["total_amount"], "1.00");
  EXPECT_EQ(c.get("/orders/" + id + "/state?version=3").json()["status"], "Draft");
  EXPECT_EQ(c.get("/orders/" + id + "/state?version=4").json()["status"], "Confirmed");
  expect_problem(c.get("/orders/" + id + "/state?version=5"), 404);
  expect_problem(c.get("/orders/" + id + "/state?version=0"), 404);
  expect_problem(c.get("/orders/" + id + "/state?version=abc"), 400);
  expect_problem(c.get("/orders/nope-3/state"), 404);

  auto events = c.get("/orders/" + id + "/events").json()["events"];
  ASSERT_EQ(events.size(), 4u);
  const std::string t2 = events[1]["recorded_at"];
  auto at2 = c.get("/orders/" + id + "/state?at=" + t2);
  ASSERT_EQ(at2.status, 200) << at2.body;
  EXPECT_EQ(at2.json()["version"], 2);
  const std::string t4 = events[3]["recorded_at"];
  EXPECT_EQ(c.get("/orders/" + id + "/state?at=" + t4).json()["version"], 4);
  expect_problem(c.get("/orders/" + id + "/state?at=2000-01-01T00:00:00Z"), 404);
  EXPECT_EQ(c.get("/orders/" + id + "/state?at=2999-01-01T00:00:00%2B02:00").json()["version"], 4);
  expect_problem(c.get("/orders/" + id + "/state?at=yesterday"), 400);
  expect_problem(c.get("/orders/" + id + "/state?at=" + t2 + "&version=2"), 400);
}

TEST_F(WriteSideApi, AuditTrailPages) {
  auto c = ws_->client();
  const std::string id = make_order({{"a", 1, "1.00"}, {"b", 2, "2.50"}});
  ASSERT_EQ(c.post("/orders/" + id + "/confirm", "").status, 200);
  ASSERT_EQ(c.post("/orders/" + id + "/ship", R"({"tracking_number":"TRK-1"})").status, 200);

  auto all = c.get("/orders/" + id + "/events");
  ASSERT_EQ(all.status, 200) << all.body;
  auto j = all.json();
  EXPECT_EQ(j["order_id"], id);
  ASSERT_EQ(j["events"].size(), 5u);
  const std::vector<std::string> types = {"OrderCreated", "OrderItemAdded", "OrderItemAdded",
                                          "OrderConfirmed", "OrderShipped"};
  long long last_position = 0;
  for (int i = 0; i < 5; ++i) {
    const auto& e = j["events"][i];
    EXPECT_EQ(e["type"], types[i]);
    EXPECT_EQ(e["version"], i + 1);
    EXPECT_GT(e["position"].get<long long>(), last_position);
    last_position = e["position"];
    EXPECT_EQ(e["event_id"].get<std::string>().size(), 36u);
    const std::string at = e["recorded_at"];
    EXPECT_EQ(at.size(), 27u) << at;  // 2026-11-26T23:22:45.123456Z
    EXPECT_EQ(at.back(), 'Z');
    EXPECT_TRUE(e.contains("schema_version") && e["data"].is_object());
  }
  EXPECT_EQ(j["events"][2]["data"]["product_id"], "b");

  auto page = c.get("/orders/" + id + "/events?from_version=2&limit=2").json()["events"];
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0]["version"], 2);
  EXPECT_EQ(page[1]["version"], 3);
  auto next = c.get("/orders/" + id + "/events?from_version=4&limit=2").json()["events"];
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[1]["version"], 5);
  auto past = c.get("/orders/" + id + "/events?from_version=6");
  EXPECT_EQ(past.status, 200);
  EXPECT_TRUE(past.json()["events"].empty());
  expect_problem(c.get("/orders/" + id + "/events?limit=0"), 400);
  expect_problem(c.get("/orders/" + id + "/events?limit=10001"), 400);
  expect_problem(c.get("/orders/" + id + "/events?from_version=x"), 400);
  expect_problem(c.get("/orders/nope-4/events"), 404);
}

TEST_F(WriteSideApi, LegacyV1EventsAreUpcastOnEveryRead) {
  auto c = ws_->client();
  const std::string id = make_order();
  // An OrderItemAdded v1 (float dollars) written by an old version, straight into the store.
  ws_->sql(
      "INSERT INTO events (event_id, stream_id, version, type, schema_version, data) VALUES "
      "(gen_random_uuid(), '" +
      id +
      "', 2, 'OrderItemAdded', 1, "
      "'{\"product_id\":\"legacy\",\"quantity\":3,\"price\":19.99}')");
  auto s = c.get("/orders/" + id + "/state");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(s.json()["total_amount"], "59.97");
  EXPECT_EQ(c.get("/orders/" + id + "/state?version=2").json()["items"][0]["price"], "19.99");
  auto e = c.get("/orders/" + id + "/events?from_version=2").json()["events"][0];
  EXPECT_EQ(e["type"], "OrderItemAdded");
  // The service's own load (after the cache forgot the order): adding the same product at the
  // same price merges into the legacy line.
  auto add = c.post("/orders/" + id + "/items", item_body("legacy", 1, "19.99"));
  // The cached state (version 1) is stale: the append conflicts, reloads and succeeds at version 3.
  ASSERT_EQ(add.status, 200) << add.body;
  EXPECT_EQ(add.json()["version"], 3);
  EXPECT_EQ(c.get("/orders/" + id + "/state").json()["items"][0]["quantity"], 4);
}

TEST_F(WriteSideApi, HealthReadyAndMetrics) {
  auto c = ws_->client();
  EXPECT_EQ(c.get("/healthz").status, 200);
  EXPECT_EQ(c.get("/readyz").status, 200);
  make_order({{"a", 1, "1.00"}});
  auto m = c.get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("orders_commands_total{type=\"CreateOrder\",outcome=\"committed\"}"),
            std::string::npos);
  EXPECT_NE(m.body.find("orders_group_commit_batch_size_bucket"), std::string::npos);
  EXPECT_NE(m.body.find("orders_append_seconds_bucket"), std::string::npos);
  EXPECT_NE(m.body.find("orders_outbox_pending"), std::string::npos);
}

// ---- a service with snapshots every 3 events and no cache: every command loads its stream ----

TEST(WriteSideSnapshots, SnapshotLoadEqualsFullReplay) {
  auto ws = WriteSide::start("", {{"SNAPSHOT_EVERY", "3"}, {"CACHE_SIZE", "0"}});
  auto c = ws->client();
  const std::string id = "snap-1";
  ASSERT_EQ(c.post("/orders", create_body(id)).status, 201);
  std::mt19937 rng(42);
  int expected_version = 1;
  for (int i = 0; i < 40; ++i) {
    const std::string product = "p" + std::to_string(rng() % 6);
    HttpResult r;
    if (rng() % 4 == 0) {
      r = c.del(std::string("/orders/").append(id).append("/items/").append(product));
    } else {
      r = c.post("/orders/" + id + "/items",
                 item_body(product, static_cast<int>(rng() % 5) + 1, "2.50"));
    }
    if (r.status == 200) {
      ++expected_version;
      EXPECT_EQ(r.json()["version"], expected_version);
    } else {
      EXPECT_EQ(r.status, 404) << r.body;  // removing a product not in the order
    }
  }
  ASSERT_GT(ws->count("SELECT count(*) FROM snapshots WHERE stream_id = 'snap-1'"), 0);
  EXPECT_EQ(ws->count("SELECT version FROM snapshots WHERE stream_id = 'snap-1'") / 3,
            expected_version / 3);

  const auto with_snapshot = c.get("/orders/" + id + "/state").json();
  EXPECT_EQ(with_snapshot["version"], expected_version);
  // Full replay: the snapshot made unusable (another state schema), then garbage in the current
  // one.
  ws->sql("UPDATE snapshots SET state_schema = 999 WHERE stream_id = 'snap-1'");
  EXPECT_EQ(c.get("/orders/" + id + "/state").json(), with_snapshot);
  ws->sql(
      "UPDATE snapshots SET state_schema = 1, state = '{\"garbage\":true}' WHERE stream_id = "
      "'snap-1'");
  EXPECT_EQ(c.get("/orders/" + id + "/state").json(), with_snapshot);
  // Commands still decide on the right state (full replay path in the committer).
  auto r = c.post("/orders/" + id + "/items", item_body("p-new", 1, "1.00"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["version"], expected_version + 1);
  // That load folded every event: the garbage snapshot was replaced by a good one.
  EXPECT_EQ(
      ws->count("SELECT version FROM snapshots WHERE stream_id = 'snap-1' AND state ? 'items'"),
      expected_version + 1);
  // Time travel agrees with the snapshot-based current state.
  EXPECT_EQ(c.get("/orders/" + id + "/state?version=" + std::to_string(expected_version)).json(),
            with_snapshot);
}

// A stream written without snapshots (here: imported with SQL) gets one on its next command, not
// only when its version next crosses a multiple of SNAPSHOT_EVERY.
TEST(WriteSideSnapshots, LongStreamWithoutSnapshotGetsOneOnItsNextCommand) {
  auto ws = WriteSide::start("", {{"SNAPSHOT_EVERY", "10"}, {"CACHE_SIZE", "0"}});
  ws->sql(
      "INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
      "SELECT gen_random_uuid(), 'imported', 1, 'OrderCreated', 1, "
      "       '{\"order_id\":\"imported\",\"customer_id\":\"c1\"}'::jsonb "
      "UNION ALL "
      "SELECT gen_random_uuid(), 'imported', v, 'OrderItemAdded', 2, "
      "       jsonb_build_object('product_id', 'p-' || (v % 3), 'quantity', 1, 'price_cents', 100) "
      "  FROM generate_series(2, 25) v");
  EXPECT_EQ(ws->count("SELECT count(*) FROM snapshots WHERE stream_id = 'imported'"), 0);
  auto c = ws->client();
  auto r = c.post("/orders/imported/items", item_body("p-x", 1, "1.00"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["version"], 26);
  // 25 + 1 does not cross a multiple of 10, but the load folded 25 events.
  EXPECT_EQ(ws->count("SELECT version FROM snapshots WHERE stream_id = 'imported'"), 26);
  // The next load starts from it and decides on the same state.
  r = c.post("/orders/imported/items", item_body("p-x", 2, "1.00"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["version"], 27);
  EXPECT_EQ(ws->count("SELECT version FROM snapshots WHERE stream_id = 'imported'"), 26);
  const auto state = c.get("/orders/imported/state").json();
  EXPECT_EQ(state["total_amount"], "27.00");
}

// GROUP_COMMIT_DELAY_US: commands arriving within the delay of the oldest queued one are
// committed together (one transaction: one xid on all their events), each answered once.
TEST(WriteSideCommitDelay, CommandsArrivingWithinTheDelayShareOneTransaction) {
  auto ws = WriteSide::start(
      "", {{"GROUP_COMMIT_DELAY_US", "1000000"}, {"GROUP_COMMIT_CONNECTIONS", "1"}});
  std::vector<std::string> ids;
  ids.reserve(6);
  for (int i = 0; i < 6; ++i) ids.push_back(unique_id("delay"));
  std::vector<int> statuses(ids.size(), 0);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back(
        [&, i] { statuses[i] = ws->client().post("/orders", create_body(ids[i])).status; });
  }
  for (auto& t : threads) t.join();
  for (int st : statuses) EXPECT_EQ(st, 201);
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "'" : ",'") + id + "'";
  EXPECT_EQ(ws->count("SELECT count(*) FROM events WHERE stream_id IN (" + list + ")"), 6);
  EXPECT_EQ(ws->count("SELECT count(DISTINCT xid) FROM events WHERE stream_id IN (" + list + ")"),
            1);
}

// EVENT_LIMIT_BYTES at 700: a command with short ids appends (an event is ~400 bytes), one whose
// product id, X-Request-Id and X-Correlation-Id are all 128 characters would append a ~770-byte
// event and gets 413 event-too-large, appends nothing and leaves the order's state as it was.
TEST(WriteSideEventLimit, AnEventOverTheLimitIs413AndAppendsNothing) {
  auto ws = WriteSide::start("", {{"EVENT_LIMIT_BYTES", "700"}});
  auto c = ws->client();
  const std::string id = unique_id("evlimit");
  ASSERT_EQ(c.post("/orders", create_body(id)).status, 201);
  const std::string long_id(128, 'x');
  const std::map<std::string, std::string> long_headers = {{"X-Request-Id", long_id},
                                                           {"X-Correlation-Id", long_id}};
  auto big = c.post("/orders/" + id + "/items", item_body(long_id, 1, "1.00"), long_headers);
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_EQ(big.headers["content-type"], "application/problem+json");
  const auto problem = big.json();
  EXPECT_EQ(problem.at("type"), "/problems/event-too-large");
  EXPECT_NE(problem.at("detail").get<std::string>().find("EVENT_LIMIT_BYTES"), std::string::npos);
  EXPECT_EQ(ws->events_of(id), 1);
  EXPECT_EQ(ws->outbox(), 1);
  // The refused event did not move the (cached) state: the next command makes version 2.
  auto small = c.post("/orders/" + id + "/items", item_body("p-1", 1, "1.00"));
  ASSERT_EQ(small.status, 200) << small.body;
  EXPECT_EQ(small.json().at("version"), 2);
  EXPECT_EQ(ws->events_of(id), 2);
  EXPECT_EQ(c.get("/problems/event-too-large").status, 200);
}

TEST(WriteSideCli, MigrateIsIdempotentAndHelpListsSettings) {
  const std::string db = shared_pg().create_database("ws_migrate");
  for (int i = 0; i < 2; ++i) {
    Process p(write_side_binary(), {"migrate"}, {{"DATABASE_URL", db}});
    auto code = p.wait(std::chrono::seconds(30));
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0) << p.log();
  }
  EXPECT_EQ(shared_pg().psql(db, "SELECT count(*) FROM pg_proc WHERE proname = 'ws_append_batch'"),
            "1");
  Process help(write_side_binary(), {"--help"}, {});
  ASSERT_EQ(help.wait(std::chrono::seconds(10)).value_or(-1), 0);
  for (const char* s :
       {"WRITE_PORT", "DATABASE_URL", "GROUP_COMMIT", "GROUP_COMMIT_DELAY_US", "BODY_LIMIT_BYTES",
        "EVENT_LIMIT_BYTES", "NATS_STREAM_MAX_AGE_S", "SNAPSHOT_EVERY", "CACHE_SIZE",
        "PG_STATEMENT_TIMEOUT_MS", "COMMAND_TOKEN"}) {
    EXPECT_NE(help.log().find(s), std::string::npos) << s;
  }
}

TEST(WriteSideLifecycle, SigtermFinishesInFlightCommandsAndExitsZero) {
  auto ws = WriteSide::start();
  std::atomic<int> ok{0}, other{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto c = ws->client();
      const std::string id = "term-" + std::to_string(t);
      if (c.post("/orders", create_body(id)).status == 201) ++ok;
      for (int i = 0; i < 200; ++i) {
        auto r = c.post("/orders/" + id + "/items", item_body("p" + std::to_string(i), 1, "1.00"));
        if (r.status == 200)
          ++ok;
        else {
          ++other;
          break;
        }
      }
    });
  }
  ASSERT_TRUE(wait_until([&] { return ok.load() > 100; }, std::chrono::seconds(20)));
  ws->process->signal(SIGTERM);
  for (auto& t : threads) t.join();
  auto code = ws->process->wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << ws->process->log();
  // Every acknowledged command is in the store (creates + adds); at most one in doubt per client.
  EXPECT_GE(ws->events(), ok.load());
  EXPECT_LE(ws->events(), ok.load() + 8);
}

}  // namespace
}  // namespace orders::testing::ws

namespace orders::testing::ws {
namespace {

TEST(WriteSideAuth, TokensGuardEachScope) {
  auto ws = WriteSide::start("", {{"COMMAND_TOKEN", "cmd-secret"},
                                  {"QUERY_TOKEN", "query-secret"},
                                  {"ADMIN_TOKEN", "admin-secret"}});
  auto c = ws->client();
  const std::map<std::string, std::string> cmd = {{"Authorization", "Bearer cmd-secret"}};
  const std::map<std::string, std::string> query = {{"Authorization", "Bearer query-secret"}};
  const std::map<std::string, std::string> admin = {{"Authorization", "Bearer admin-secret"}};
  EXPECT_EQ(c.post("/orders", create_body("auth-1")).status, 401);
  EXPECT_EQ(c.post("/orders", create_body("auth-1"), query).status, 403);
  EXPECT_EQ(ws->events(), 0);
  EXPECT_EQ(c.post("/orders", create_body("auth-1"), cmd).status, 201);
  EXPECT_EQ(c.get("/orders/auth-1/state").status, 401);
  EXPECT_EQ(c.request("GET", "/orders/auth-1/state", "", cmd).status, 403);
  EXPECT_EQ(c.request("GET", "/orders/auth-1/state", "", query).status, 200);
  EXPECT_EQ(c.request("GET", "/orders/auth-1/events", "", query).status, 200);
  EXPECT_EQ(c.get("/metrics").status, 401);
  EXPECT_EQ(c.request("GET", "/metrics", "", query).status, 403);
  EXPECT_EQ(c.request("GET", "/metrics", "", admin).status, 200);
  EXPECT_EQ(c.get("/healthz").status, 200);
  EXPECT_EQ(c.get("/readyz").status, 200);
}

TEST(WriteSideFaults, KilledDatabaseConnectionsGive503NeverALostWrite) {
  auto ws = WriteSide::start();
  const std::string db = ws->db_url.substr(ws->db_url.rfind('/') + 1);
  {
    auto c = ws->client();
    for (int t = 0; t < 4; ++t)
      ASSERT_EQ(c.post("/orders", create_body("fault-" + std::to_string(t))).status, 201);
  }
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, unavailable{0}, other{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto c = ws->client();
      for (int i = 0; !stop.load(); ++i) {
        auto r = c.post("/orders/fault-" + std::to_string(t) + "/items",
                        item_body("p-" + std::to_string(i), 1, "1.00"));
        if (r.status == 200)
          ++ok;
        else if (r.status == 503)
          ++unavailable;
        else
          ++other;
      }
    });
  }
  for (int round = 0; round < 5; ++round) {
    const int before = ok.load();
    ASSERT_TRUE(wait_until([&] { return ok.load() > before + 20; }, std::chrono::seconds(20)));
    shared_pg().psql(shared_pg().url(),
                     "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                     "WHERE datname = '" +
                         db + "' AND pid <> pg_backend_pid()");
  }
  const int before = ok.load();
  ASSERT_TRUE(wait_until([&] { return ok.load() > before + 20; }, std::chrono::seconds(20)));
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  // Every 200 is stored; a 503 may or may not be (in doubt), so stored >= acknowledged.
  EXPECT_GE(ws->events(), 4 + ok.load());
  EXPECT_LE(ws->events(), 4 + ok.load() + unavailable.load());
  // Versions stay dense and every event has its outbox row.
  EXPECT_EQ(ws->count("SELECT count(*) FROM (SELECT stream_id FROM events GROUP BY stream_id "
                      "HAVING max(version) <> count(*)) x"),
            0);
  EXPECT_EQ(ws->events(), ws->outbox());
  std::printf("killed connections: %d acknowledged, %d answered 503\n", ok.load(),
              unavailable.load());
}

}  // namespace
}  // namespace orders::testing::ws
