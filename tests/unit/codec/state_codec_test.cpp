#include "common/codec/state_codec.hpp"

#include <gtest/gtest.h>

namespace orders::codec {
namespace {

namespace d = orders::domain;

d::OrderState seed() {
  d::OrderState s;
  for (const d::Event& e : std::vector<d::Event>{d::OrderCreated{"order-1", "customer-1"},
                                                 d::OrderItemAdded{"product-1", 2, 1000},
                                                 d::OrderItemAdded{"product-2", 1, 1500},
                                                 d::OrderConfirmed{}, d::OrderShipped{"TRK123456"}})
    s = d::evolve(std::move(s), e);
  return s;
}

TEST(StateCodec, ContractShape) {
  const auto j = state_to_json(seed());
  EXPECT_EQ(j["order_id"], "order-1");
  EXPECT_EQ(j["customer_id"], "customer-1");
  EXPECT_EQ(j["status"], "Shipped");
  EXPECT_EQ(j["total_amount"], "35.00");
  EXPECT_EQ(j["version"], 5);
  ASSERT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["items"][0]["product_id"], "product-1");
  EXPECT_EQ(j["items"][0]["quantity"], 2);
  EXPECT_EQ(j["items"][0]["price"], "10.00");
}

TEST(StateCodec, SnapshotRoundTrip) {
  const auto s = seed();
  auto back = state_from_snapshot_json(state_to_snapshot_json(s));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, s);
  EXPECT_FALSE(state_from_snapshot_json(nlohmann::json{{"order_id", 1}}).has_value());
  EXPECT_FALSE(state_from_snapshot_json(nlohmann::json::array()).has_value());
}

}  // namespace
}  // namespace orders::codec
