#include <gtest/gtest.h>

#include "codec/recorded_event.hpp"

namespace orders::codec {
namespace {

TEST(Rfc3339, FormatsWithMicroseconds) {
  EXPECT_EQ(format_rfc3339_us(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339_us(1795735365123456), "2026-11-26T23:22:45.123456Z");
  EXPECT_EQ(format_rfc3339_us(-1), "1969-12-31T23:59:59.999999Z");
}

TEST(Rfc3339, ParsesVariants) {
  EXPECT_EQ(parse_rfc3339_us("2026-11-26T23:22:45.123456Z"), 1795735365123456);
  EXPECT_EQ(parse_rfc3339_us("2026-11-26T23:22:45Z"), 1795735365000000);
  EXPECT_EQ(parse_rfc3339_us("2026-11-27T00:22:45.123456+01:00"), 1795735365123456);
  EXPECT_EQ(parse_rfc3339_us("2026-11-26T23:22:45.123456789Z"), 1795735365123456);
  for (const char* bad : {"", "2026-11-26", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                          "2026-11-26T23:22:45", "2026-11-26T23:22:45.Z", "2026-11-26T24:00:00Z",
                          "2026-11-26T23:22:45Zjunk", "2025-02-29T00:00:00Z", "not a time at all!!"}) {
    EXPECT_EQ(parse_rfc3339_us(bad), std::nullopt) << bad;
  }
}

TEST(Wire, RoundTrip) {
  RecordedEvent e;
  e.event_id = "0b7e8d4c-5a6f-4e3d-8c2b-abcdef012345";
  e.stream_id = "order-1";
  e.version = 2;
  e.position = 17;
  e.global_position = 12;
  e.type = "OrderItemAdded";
  e.schema_version = 2;
  e.recorded_at_us = 1795735365123456;
  e.data = {{"product_id", "p"}, {"quantity", 1}, {"price_cents", 5}};
  e.metadata = nlohmann::json::object();
  auto back = from_wire_json(to_wire_json(e).dump());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->event_id, e.event_id);
  EXPECT_EQ(back->global_position, 12);
  EXPECT_EQ(back->data, e.data);
  EXPECT_FALSE(from_wire_json("{").has_value());
  EXPECT_FALSE(from_wire_json("{}").has_value());
}

TEST(Audit, UpcastsOldEvents) {
  RecordedEvent e;
  e.type = "OrderItemAdded";
  e.schema_version = 1;
  e.data = {{"product_id", "p"}, {"quantity", 1}, {"price", 10.5}};
  const auto j = to_audit_json(e);
  EXPECT_EQ(j["schema_version"], 2);
  EXPECT_EQ(j["data"]["price_cents"], 1050);
}

TEST(Partition, StableAndInRange) {
  EXPECT_EQ(partition_of("order-1"), partition_of("order-1"));
  for (int i = 0; i < 1000; ++i) {
    const int p = partition_of("o" + std::to_string(i));
    EXPECT_GE(p, 0);
    EXPECT_LT(p, kPartitions);
  }
  EXPECT_EQ(subject_for("orders", "order-1").rfind("orders.events.", 0), 0u);
}

}  // namespace
}  // namespace orders::codec
