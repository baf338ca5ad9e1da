#include "common/codec/event_codec.hpp"

#include <gtest/gtest.h>

namespace orders::codec {
namespace {

using nlohmann::json;
namespace d = orders::domain;

TEST(EventCodec, RoundTripsEveryEventAtCurrentVersion) {
  const std::vector<d::Event> all = {d::OrderCreated{"o", "c"}, d::OrderItemAdded{"p", 3, 1010},
                                     d::OrderItemRemoved{"p"},  d::OrderConfirmed{},
                                     d::OrderShipped{"T1"},     d::OrderDelivered{}};
  for (const auto& e : all) {
    const auto type = d::event_type(e);
    auto decoded = decode_event(type, current_schema_version(type), encode_event_data(e));
    ASSERT_TRUE(std::holds_alternative<d::Event>(decoded)) << type;
    EXPECT_EQ(std::get<d::Event>(decoded), e) << type;
  }
}

TEST(EventCodec, UpcastsItemAddedV1FloatDollarsToCents) {
  auto decoded = decode_event("OrderItemAdded", 1,
                              json{{"product_id", "p"}, {"quantity", 2}, {"price", 10.1}});
  ASSERT_TRUE(std::holds_alternative<d::Event>(decoded));
  EXPECT_EQ(std::get<d::Event>(decoded), (d::Event{d::OrderItemAdded{"p", 2, 1010}}));
  auto lifted =
      upcast("OrderItemAdded", 1, json{{"product_id", "p"}, {"quantity", 2}, {"price", 0.29}});
  ASSERT_TRUE(std::holds_alternative<json>(lifted));
  EXPECT_EQ(std::get<json>(lifted)["price_cents"], 29);
  EXPECT_FALSE(std::get<json>(lifted).contains("price"));
}

TEST(EventCodec, RejectsUnknownVersionsTypesAndShapes) {
  EXPECT_TRUE(
      std::holds_alternative<DecodeError>(decode_event("OrderItemAdded", 3, json::object())));
  EXPECT_TRUE(
      std::holds_alternative<DecodeError>(decode_event("OrderItemAdded", 0, json::object())));
  EXPECT_TRUE(std::holds_alternative<DecodeError>(decode_event("Nope", 1, json::object())));
  EXPECT_TRUE(
      std::holds_alternative<DecodeError>(decode_event("OrderCreated", 1, json{{"order_id", 1}})));
  EXPECT_TRUE(std::holds_alternative<DecodeError>(decode_event(
      "OrderItemAdded", 1, json{{"product_id", "p"}, {"quantity", 2}, {"price", "x"}})));
  EXPECT_TRUE(std::holds_alternative<DecodeError>(decode_event("OrderCreated", 1, json::array())));
}

}  // namespace
}  // namespace orders::codec
