// Money and lines that cannot overflow, end to end: random commands near the limits over HTTP
// are answered 200 or 409 (never a 5xx), and the write side's /state, the read model, a
// customer's lifetime value and a rebuilt read model agree to the cent; at each limit a command
// works and one past it is a 409 that stores nothing.
#include <random>

#include <gtest/gtest.h>

#include "common/domain/money.hpp"
#include "common/domain/order.hpp"
#include "tests/e2e/support/stack.hpp"

namespace orders::testing::e2e {
namespace {

using namespace std::chrono_literals;

constexpr int kMaxLines = 20;  // MAX_ORDER_LINES for these tests: "the most lines" stays cheap

StackOptions options(const std::string& hint) {
  StackOptions so;
  so.db_hint = hint;
  so.write_env = {{"MAX_ORDER_LINES", std::to_string(kMaxLines)}};
  return so;
}

std::string add_body(const std::string& product, std::int64_t quantity, domain::Cents price) {
  return R"({"product_id":")" + product + R"(","quantity":)" + std::to_string(quantity) +
         R"(,"price":")" + domain::format_cents(price) + "\"}";
}

// "123.45" -> 12345 exactly, in 128 bits (a lifetime value may pass 64).
__int128 cents_of(const std::string& decimal) {
  __int128 v = 0;
  for (char c : decimal)
    if (c >= '0' && c <= '9') v = v * 10 + (c - '0');
  return v;
}

// Creates order `id` for `customer`; returns its version (1).
void create(HttpClient& w, const std::string& id, const std::string& customer) {
  auto r = w.post("/orders", R"({"order_id":")" + id + R"(","customer_id":")" + customer + "\"}");
  ASSERT_EQ(r.status, 201) << r.body;
}

// The read model's view of an order once it reached `version`.
nlohmann::json read_order(int port, const std::string& id, std::int64_t version) {
  HttpClient r("127.0.0.1", port);
  auto res = r.get("/orders/" + id + "?min_version=" + std::to_string(version) + "&wait_ms=20000");
  EXPECT_EQ(res.status, 200) << res.body;
  return res.status == 200 ? res.json() : nlohmann::json::object();
}

TEST(MoneyLimits, RandomCommandsNearTheLimitsAgreeEverywhereAndNeverWrap) {
  Stack stack(options("money_random"));
  HttpClient w("127.0.0.1", stack.write_port());
  std::mt19937_64 rng(42);
  const std::vector<std::string> ids = {"m-1", "m-2", "m-3", "m-4"};
  for (std::size_t i = 0; i < ids.size(); ++i) create(w, ids[i], i % 2 ? "cust-b" : "cust-a");
  int conflicts = 0;
  for (int step = 0; step < 240; ++step) {
    const auto& id = ids[rng() % ids.size()];
    const auto product = "p-" + std::to_string(rng() % (kMaxLines + 4));
    const bool big = rng() % 3 != 0;
    const std::int64_t quantity = big ? domain::kMaxItemQuantity : 1 + rng() % 1000;
    const domain::Cents price = big ? domain::kMaxPriceCents : 1 + rng() % 100'000;
    auto r = rng() % 8 == 0
                 ? w.del("/orders/" + id + "/items/" + product)
                 : w.post("/orders/" + id + "/items", add_body(product, quantity, price));
    ASSERT_TRUE(r.status == 200 || r.status == 404 || r.status == 409) << r.status << " " << r.body;
    if (r.status == 409) ++conflicts;
  }
  EXPECT_GT(conflicts, 0) << "the sequence never reached a limit";
  ASSERT_EQ(w.post("/orders/m-1/confirm", "").status, 200);
  ASSERT_EQ(w.post("/orders/m-3/confirm", "").status, 200);

  std::map<std::string, __int128> lifetime;
  std::map<std::string, std::string> write_totals;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto& id = ids[i];
    auto st = w.get("/orders/" + id + "/state");
    ASSERT_EQ(st.status, 200) << st.body;
    const auto state = st.json();
    const std::string total = state.at("total_amount");
    EXPECT_LE(cents_of(total), static_cast<__int128>(domain::kMaxOrderTotalCents)) << total;
    EXPECT_LE(state.at("items").size(), static_cast<std::size_t>(kMaxLines));
    EXPECT_EQ(total.find('-'), std::string::npos) << total;
    write_totals[id] = total;
    const auto view = read_order(stack.read_port(), id, state.at("version"));
    EXPECT_EQ(view.value("total_amount", ""), total) << id;
    EXPECT_EQ(view.value("items", nlohmann::json()).size(), state.at("items").size()) << id;
    if (state.at("status") == "Confirmed") lifetime[i % 2 ? "cust-b" : "cust-a"] += cents_of(total);
  }
  HttpClient r("127.0.0.1", stack.read_port());
  for (const auto& [customer, cents] : lifetime) {
    auto c = r.get("/customers/" + customer);
    ASSERT_EQ(c.status, 200) << c.body;
    EXPECT_EQ(cents_of(c.json().at("lifetime_value")), cents) << c.body;
  }

  Process rebuild(
      read_side_binary(), {"rebuild-projection", "--all"},
      {{"DATABASE_URL", stack.db_url()}, {"NATS_URL", stack.nats().url()}, {"LOG_LEVEL", "warn"}});
  ASSERT_EQ(rebuild.wait(120s).value_or(-1), 0) << rebuild.log();
  for (const auto& id : ids) {
    auto v = r.get("/orders/" + id);
    ASSERT_EQ(v.status, 200) << v.body;
    EXPECT_EQ(v.json().value("total_amount", ""), write_totals[id]) << id << " after the rebuild";
  }
}

TEST(MoneyLimits, AtEachLimitACommandWorksAndOnePastItIsA409ThatStoresNothing) {
  Stack stack(options("money_edges"));
  HttpClient w("127.0.0.1", stack.write_port());
  create(w, "edge-total", "cust-e");
  // Ten maximal lines reach the bound exactly: 10 x 1,000,000 x 1,000,000.00 = 10^13.00.
  for (int i = 0; i < 9; ++i) {
    auto r = w.post(
        "/orders/edge-total/items",
        add_body("p-" + std::to_string(i), domain::kMaxItemQuantity, domain::kMaxPriceCents));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  auto at = w.post("/orders/edge-total/items",
                   add_body("p-9", domain::kMaxItemQuantity, domain::kMaxPriceCents));
  ASSERT_EQ(at.status, 200) << at.body;  // the tenth: exactly at the bound
  auto before = stack.events_count();
  auto past = w.post("/orders/edge-total/items", add_body("p-10", 1, 1));
  std::string why;
  EXPECT_TRUE(is_problem(past, 409, &why)) << why;
  EXPECT_EQ(past.json().value("type", ""), "/problems/order-total-too-large") << past.body;
  EXPECT_NE(past.json().value("detail", "").find("10000000000000.00"), std::string::npos);
  EXPECT_EQ(stack.events_count(), before) << "a refused command stored events";
  auto state = w.get("/orders/edge-total/state").json();
  EXPECT_EQ(state.at("total_amount"), "10000000000000.00");

  create(w, "edge-lines", "cust-e");
  for (int i = 0; i < kMaxLines; ++i) {
    auto r = w.post("/orders/edge-lines/items", add_body("l-" + std::to_string(i), 1, 100));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  before = stack.events_count();
  auto extra = w.post("/orders/edge-lines/items", add_body("l-extra", 1, 100));
  EXPECT_TRUE(is_problem(extra, 409, &why)) << why;
  EXPECT_EQ(extra.json().value("type", ""), "/problems/too-many-lines") << extra.body;
  EXPECT_EQ(stack.events_count(), before);
  // A product already in the full order still adds.
  EXPECT_EQ(w.post("/orders/edge-lines/items", add_body("l-0", 1, 100)).status, 200);
}

}  // namespace
}  // namespace orders::testing::e2e
