// The order's bounds: the total never passes kMaxOrderTotalCents (refused at one cent past, taken
// at the bound), the distinct lines never pass OrderLimits::max_lines, and a random command
// sequence near the limits never wraps: every accepted state's total is the exact sum.
#include <random>

#include <gtest/gtest.h>

#include "common/domain/money.hpp"
#include "common/domain/order.hpp"
#include "tests/unit/domain/decider_spec.hpp"

namespace orders::domain {
namespace {

using spec::Given;

const Event kCreated = OrderCreated{"order-1", "customer-1"};

// An order whose total is `cents` short of the bound, built from maximal lines.
std::vector<Event> order_short_of_bound(Cents cents) {
  std::vector<Event> events{kCreated};
  Cents remaining = kMaxOrderTotalCents - cents;
  int line = 0;
  while (remaining > 0) {
    const std::int64_t quantity = std::min<Cents>(kMaxItemQuantity, remaining);
    const Cents price = std::min<Cents>(kMaxPriceCents, remaining / quantity);
    events.push_back(OrderItemAdded{"p-" + std::to_string(line++), quantity, price});
    remaining -= quantity * price;
  }
  return events;
}

TEST(OrderTotal, AnAddThatReachesTheBoundExactlyIsTaken) {
  Given(order_short_of_bound(500))
      .When(AddItem{"last", 5, 100})
      .Then({OrderItemAdded{"last", 5, 100}});
}

TEST(OrderTotal, OneCentPastTheBoundIsRefusedNamingTheLimit) {
  auto s = Given(order_short_of_bound(500));
  s.When(AddItem{"last", 1, 501}).ThenRejects(RejectionCode::TotalTooLarge);
  const auto d = decide(AddItem{"last", 1, 501}, s.state());
  EXPECT_NE(std::get<Rejection>(d).detail.find("10000000000000.00"), std::string::npos)
      << std::get<Rejection>(d).detail;
}

TEST(OrderTotal, TheHostileSequenceOfTheReportIsRefusedBeforeItWraps) {
  // 100 products, each added at the maximum quantity and price until refused.
  OrderState s = evolve({}, kCreated);
  int accepted = 0, refused = 0;
  for (int product = 0; product < 100; ++product) {
    for (int i = 0; i < 1000; ++i) {
      const AddItem add{"p-" + std::to_string(product), kMaxItemQuantity, kMaxPriceCents};
      auto d = decide(add, s);
      if (auto* r = std::get_if<Rejection>(&d)) {
        ASSERT_TRUE(r->code == RejectionCode::TotalTooLarge ||
                    r->code == RejectionCode::QuantityTooLarge)
            << to_string(r->code);
        ++refused;
        continue;
      }
      for (const auto& e : std::get<std::vector<Event>>(d)) s = evolve(std::move(s), e);
      ++accepted;
    }
  }
  EXPECT_EQ(accepted, 10);  // 10 x 10^14 cents reach the bound of 10^15
  EXPECT_GT(refused, 0);
  EXPECT_EQ(total_cents(s), kMaxOrderTotalCents);
}

TEST(OrderTotal, AHistoryPastTheBoundIsReportedNotWrapped) {
  // Written before the bound existed: 100 lines of 10^17 cents do not fit in 64 bits.
  OrderState s = evolve({}, kCreated);
  for (int i = 0; i < 100; ++i)
    s = evolve(std::move(s),
               OrderItemAdded{"p-" + std::to_string(i), kMaxLineQuantity, kMaxPriceCents});
  EXPECT_FALSE(checked_total_cents(s).has_value());
  EXPECT_THROW(total_cents(s), std::overflow_error);
  EXPECT_EQ(std::get<Rejection>(decide(AddItem{"x", 1, 1}, s)).code, RejectionCode::TotalTooLarge);
}

TEST(OrderLines, ANewProductBeyondTheLimitIsRefusedAnExistingOneStillAdds) {
  const OrderLimits limits{3};
  OrderState s = evolve({}, kCreated);
  for (int i = 0; i < 3; ++i) {
    auto d = decide(AddItem{"p-" + std::to_string(i), 1, 100}, s, limits);
    ASSERT_TRUE(std::holds_alternative<std::vector<Event>>(d));
    s = evolve(std::move(s), std::get<std::vector<Event>>(d).front());
  }
  auto d = decide(AddItem{"p-new", 1, 100}, s, limits);
  ASSERT_TRUE(std::holds_alternative<Rejection>(d));
  EXPECT_EQ(std::get<Rejection>(d).code, RejectionCode::TooManyLines);
  EXPECT_TRUE(
      std::holds_alternative<std::vector<Event>>(decide(AddItem{"p-1", 1, 100}, s, limits)));
  // After a removal there is room again.
  s = evolve(std::move(s), OrderItemRemoved{"p-0"});
  EXPECT_TRUE(
      std::holds_alternative<std::vector<Event>>(decide(AddItem{"p-new", 1, 100}, s, limits)));
}

TEST(OrderLines, TheDefaultLimitIsAThousand) {
  EXPECT_EQ(OrderLimits{}.max_lines, 1000u);
}

// Random sequences near the limits: whatever is accepted keeps the total exact (compared with a
// 128-bit sum) and within the bound, and the lines within their limit.
TEST(OrderLimitsProperty, RandomCommandsNearTheLimitsNeverWrap) {
  std::mt19937_64 rng(20261203);
  const OrderLimits limits{8};
  for (int run = 0; run < 300; ++run) {
    OrderState s = evolve({}, kCreated);
    for (int step = 0; step < 200; ++step) {
      const int product = static_cast<int>(rng() % 10);
      const bool big = rng() % 4 != 0;
      const std::int64_t quantity =
          big ? kMaxItemQuantity - static_cast<std::int64_t>(rng() % 3) : 1 + rng() % 100;
      const Cents price =
          big ? kMaxPriceCents - static_cast<Cents>(rng() % 2) * product : 1 + product;
      Command c = rng() % 6 == 0
                      ? Command{RemoveItem{"p-" + std::to_string(product)}}
                      : Command{AddItem{"p-" + std::to_string(product), quantity, price}};
      auto d = decide(c, s, limits);
      if (std::holds_alternative<Rejection>(d)) continue;
      for (const auto& e : std::get<std::vector<Event>>(d)) s = evolve(std::move(s), e);
      __int128 exact = 0;
      for (const auto& item : s.items) exact += static_cast<__int128>(item.quantity) * item.price;
      const auto total = checked_total_cents(s);
      ASSERT_TRUE(total.has_value());
      ASSERT_EQ(static_cast<__int128>(*total), exact);
      ASSERT_LE(*total, kMaxOrderTotalCents);
      ASSERT_LE(s.items.size(), limits.max_lines);
      for (const auto& item : s.items) ASSERT_LE(item.quantity, kMaxLineQuantity);
    }
  }
}

TEST(FormatCentsDigits, FormatsSumsOfAnyLength) {
  EXPECT_EQ(format_cents_digits("0"), "0.00");
  EXPECT_EQ(format_cents_digits("5"), "0.05");
  EXPECT_EQ(format_cents_digits("-5"), "-0.05");
  EXPECT_EQ(format_cents_digits("123456"), "1234.56");
  EXPECT_EQ(format_cents_digits("00042"), "0.42");
  EXPECT_EQ(format_cents_digits("100000000000000000000000"), "1000000000000000000000.00");
  EXPECT_EQ(format_cents_digits("-0"), "0.00");
  EXPECT_EQ(format_cents_digits("9223372036854775807"), format_cents(INT64_MAX));
  EXPECT_FALSE(format_cents_digits(""));
  EXPECT_FALSE(format_cents_digits("-"));
  EXPECT_FALSE(format_cents_digits("1.5"));
  EXPECT_FALSE(format_cents_digits("12a"));
}

}  // namespace
}  // namespace orders::domain
