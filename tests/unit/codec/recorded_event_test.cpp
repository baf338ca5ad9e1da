#include "common/codec/recorded_event.hpp"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/codec/bus_envelope.hpp"

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
  for (const char* bad :
       {"", "2026-11-26", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-26T23:22:45",
        "2026-11-26T23:22:45.Z", "2026-11-26T24:00:00Z", "2026-11-26T23:22:45Zjunk",
        "2025-02-29T00:00:00Z", "not a time at all!!"}) {
    EXPECT_EQ(parse_rfc3339_us(bad), std::nullopt) << bad;
  }
}

// An OrderItemAdded envelope as the relay sends it.
RecordedEvent sample_event() {
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
  return e;
}

TEST(Wire, RoundTrip) {
  const RecordedEvent e = sample_event();
  auto back = from_wire_json(to_wire_json(e).dump());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->event_id, e.event_id);
  EXPECT_EQ(back->global_position, 12);
  EXPECT_EQ(back->data, e.data);
  EXPECT_FALSE(from_wire_json("{").has_value());
  EXPECT_FALSE(from_wire_json("{}").has_value());
}

// from_wire_json's scanner must agree with the full parse on every input: the same event, or
// nullopt from both.
void expect_same_decode(const std::string& body) {
  const auto fast = from_wire_json(body);
  const auto full = parse_wire_json_fully(body);
  ASSERT_EQ(fast.has_value(), full.has_value()) << body;
  if (!fast) return;
  EXPECT_EQ(fast->event_id, full->event_id) << body;
  EXPECT_EQ(fast->stream_id, full->stream_id) << body;
  EXPECT_EQ(fast->version, full->version) << body;
  EXPECT_EQ(fast->position, full->position) << body;
  EXPECT_EQ(fast->global_position, full->global_position) << body;
  EXPECT_EQ(fast->type, full->type) << body;
  EXPECT_EQ(fast->schema_version, full->schema_version) << body;
  EXPECT_EQ(fast->recorded_at_us, full->recorded_at_us) << body;
  EXPECT_EQ(fast->data, full->data) << body;
  EXPECT_EQ(fast->metadata, full->metadata) << body;
}

TEST(Wire, ScannerAndFullParseAgree) {
  RecordedEvent e = sample_event();
  e.data = {{"product_id", "p \"quoted\" {brace} \\ ü"},
            {"quantity", 1},
            {"price_cents", 5},
            {"nested", {{"a", {1, 2, {{"b", "}"}}}}}}};
  e.metadata = {{"correlation_id", "c-1"}};
  const std::string base = to_wire_json(e).dump();
  std::vector<std::string> bodies = {
      base,
      to_wire_json(e).dump(2),  // whitespace
      R"({"event_id":"e","stream_id":"s","version":1,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{}})",
      R"({"event_id":"e","stream_id":"s","version":1,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{},"global_position":null,"metadata":{}})",
      R"({"event_id":"e","stream_id":"s","version":-3,"position":1,"type":"T","schema_version":1,"recorded_at_us":-5,"data":{"x":[1,{"y":"]"}]}})",
      R"({"event_id":"e\u0041","stream_id":"s","version":1,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{}})",
      R"({"event_id":"é","stream_id":"s","version":1,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{}})",
      R"({"event_id":"e","stream_id":"s","version":1.5,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{}})",
      R"({"event_id":"e","stream_id":"s","version":1,"position":1,"type":"T","schema_version":2.0,"recorded_at_us":0,"data":{}})",
      R"({"event_id":"e","stream_id":"s","version":1e3,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{}})",
      R"({"event_id":"e","stream_id":"s","version":01,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{}})",
      R"({"event_id":"e","stream_id":"s","version":99999999999999999999,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{}})",
      R"({"event_id":"e","stream_id":"s","version":1,"position":1,"type":"T","schema_version":4294967296,"recorded_at_us":0,"data":{}})",
      R"({"event_id":"e","stream_id":"s","version":1,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":[]})",
      R"({"event_id":"e","stream_id":"s","version":1,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":"x"})",
      R"({"event_id":"e","stream_id":"s","version":1,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{},"extra":1})",
      R"({"event_id":"e","event_id":"f","stream_id":"s","version":1,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{}})",
      R"({"event_id":"e","stream_id":"s","version":1,"position":1,"type":"T","schema_version":1,"data":{}})",
      R"({"event_id":1,"stream_id":"s","version":1,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{}})",
      R"({"event_id":"e","stream_id":"s","version":"1","position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{}})",
      R"({"event_id":"e","stream_id":"s","version":1,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{}} x)",
      R"({"event_id":"e","stream_id":"s","version":1,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{},})",
      R"({"event_id":"e","stream_id":"s","version":1,"position":1,"type":"T","schema_version":1,"recorded_at_us":0,"data":{"a":}})",
      "",
      "{",
      "{}",
      "[]",
      "null",
      "{\"data\":{}}",
  };
  for (const auto& b : bodies) expect_same_decode(b);
  // Mutations of a real envelope: flipped, dropped and inserted bytes (fixed seed).
  std::mt19937 rng(7);
  const std::string alphabet = "{}[]\":,0123456789-.eE nul\\a\x01\xc3";
  for (int i = 0; i < 3000; ++i) {
    std::string b = base;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits && !b.empty(); ++k) {
      const std::size_t at = rng() % b.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          b[at] = c;
          break;
        case 1:
          b.erase(at, 1);
          break;
        default:
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
      }
    }
    expect_same_decode(b);
    if (::testing::Test::HasFailure()) break;
  }
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

TEST(Audit, CarriesTheMetadataAsStored) {
  RecordedEvent e;
  e.type = "OrderConfirmed";
  e.schema_version = 1;
  e.data = nlohmann::json::object();
  e.metadata = {{"command", "ConfirmOrder"}, {"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"}};
  EXPECT_EQ(to_audit_json(e)["metadata"], e.metadata);
  e.metadata = nullptr;  // a reader that could not parse it: an empty object, never null
  EXPECT_EQ(to_audit_json(e)["metadata"], nlohmann::json::object());
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
