// The bus envelope's one writer (write_wire_json, the relay's) against its JSON form and the
// reader, and the subject scheme.
#include "common/codec/bus_envelope.hpp"

#include <string>

#include <gtest/gtest.h>

namespace orders::codec {
namespace {

RecordedEvent sample() {
  RecordedEvent e;
  e.event_id = "0b7e8d4c-5a6f-4e3d-8c2b-abcdef012345";
  e.stream_id = "order-\"quoted\"\\1\n";  // escapes in a string field
  e.version = 2;
  e.position = 17;
  e.global_position = 12;
  e.type = "OrderItemAdded";
  e.schema_version = 2;
  e.recorded_at_us = 1795735365123456;
  e.data = {{"product_id", "p"}, {"quantity", 1}, {"price_cents", 5}};
  e.metadata = {{"correlation_id", "c-1"}};
  return e;
}

TEST(BusEnvelope, WriterEqualsTheJsonFormFieldForField) {
  for (bool with_global : {true, false}) {
    RecordedEvent e = sample();
    if (!with_global) e.global_position.reset();
    const auto written = nlohmann::json::parse(wire_json(e));
    const auto expected = to_wire_json(e);
    ASSERT_TRUE(written.is_object());
    EXPECT_EQ(written.size(), expected.size());
    for (const auto& [key, value] : expected.items()) {
      ASSERT_TRUE(written.contains(key)) << key;
      EXPECT_EQ(written.at(key), value) << key;
    }
  }
}

TEST(BusEnvelope, FieldsWriterCopiesJsonText) {
  WireFields f;
  f.event_id = "id";
  f.stream_id = "order-9";
  f.version = 1;
  f.position = 3;
  f.global_position = 4;
  f.type = "OrderCreated";
  f.schema_version = 1;
  f.recorded_at_us = 5;
  f.data_json = R"({"customer_id": "c"})";  // jsonb text as Postgres sends it
  f.metadata_json = "{}";
  std::string out = "stale";
  write_wire_json(out, f);
  EXPECT_EQ(out, R"({"event_id":"id","stream_id":"order-9","version":1,"position":3,)"
                 R"("global_position":4,"type":"OrderCreated","schema_version":1,)"
                 R"("recorded_at_us":5,"data":{"customer_id": "c"},"metadata":{}})");
}

TEST(BusEnvelope, ReaderRoundTripsTheWriter) {
  const RecordedEvent e = sample();
  const std::string body = wire_json(e);
  for (const auto& back : {from_wire_json(body), parse_wire_json_fully(body)}) {
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->event_id, e.event_id);
    EXPECT_EQ(back->stream_id, e.stream_id);
    EXPECT_EQ(back->version, e.version);
    EXPECT_EQ(back->position, e.position);
    EXPECT_EQ(back->global_position, e.global_position);
    EXPECT_EQ(back->type, e.type);
    EXPECT_EQ(back->schema_version, e.schema_version);
    EXPECT_EQ(back->recorded_at_us, e.recorded_at_us);
    EXPECT_EQ(back->data, e.data);
    EXPECT_EQ(back->metadata, e.metadata);
  }
}

TEST(BusEnvelope, SubjectScheme) {
  EXPECT_EQ(stream_subject_prefix("ORDERS"), "orders.events");
  EXPECT_EQ(stream_subject_filter("ORDERS"), "orders.events.>");
  EXPECT_EQ(partition_subject("Orders", 7), "orders.events.7");
  EXPECT_EQ(subject_for("ORDERS", "order-1"),
            "orders.events." + std::to_string(partition_of("order-1")));
}

}  // namespace
}  // namespace orders::codec

namespace orders::codec {
namespace {

constexpr std::string_view kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

WireFields traced_fields(std::string_view metadata_json) {
  WireFields f;
  f.event_id = "0190c3a2-7b1e-7abc-8def-0123456789ab";
  f.stream_id = "order-7";
  f.version = 3;
  f.position = 9;
  f.global_position = 4;
  f.type = "OrderShipped";
  f.schema_version = 1;
  f.recorded_at_us = 1764806400123456;
  f.data_json = R"({"tracking_number":"T-1"})";
  f.metadata_json = metadata_json;
  return f;
}

TEST(BusHeaders, CarryTheCloudEventsAttributesAndTheTraceparent) {
  // jsonb text as Postgres prints it: a space after each colon and comma.
  const std::string metadata =
      R"({"command": "ShipOrder", "traceparent": ")" + std::string(kTraceparent) + R"("})";
  BusHeaders h;
  write_bus_headers(h, traced_fields(metadata));
  const BusHeaders want = {{"ce-specversion", "1.0"},
                           {"ce-id", "0190c3a2-7b1e-7abc-8def-0123456789ab"},
                           {"ce-source", "/orders/write-side"},
                           {"ce-type", "orders.OrderShipped"},
                           {"ce-subject", "order-7"},
                           {"ce-time", "2025-12-04T00:00:00.123456Z"},
                           {"content-type", "application/json"},
                           {"traceparent", std::string(kTraceparent)}};
  EXPECT_EQ(h, want);
}

TEST(BusHeaders, AReusedVectorIsRefilledWithoutStaleValues) {
  BusHeaders h;
  write_bus_headers(h, traced_fields(R"({"traceparent":")" + std::string(kTraceparent) + "\"}"));
  ASSERT_EQ(h.size(), 8u);
  auto untraced = traced_fields(R"({"command":"ShipOrder"})");
  untraced.type = "OrderDelivered";
  write_bus_headers(h, untraced);
  ASSERT_EQ(h.size(), 7u);  // no traceparent for an event recorded without one
  EXPECT_EQ(h[3].second, "orders.OrderDelivered");
  EXPECT_EQ(h[5].second, "2025-12-04T00:00:00.123456Z");
}

TEST(BusHeaders, AMalformedTraceparentIsLeftOff) {
  for (const std::string bad :
       {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "x\\r\\nInjected: 1",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}) {
    BusHeaders h;
    write_bus_headers(h, traced_fields(R"({"traceparent": ")" + bad + "\"}"));
    EXPECT_EQ(h.size(), 7u) << bad;
  }
}

TEST(MetadataString, FindsAMemberNotAValueEqualToItsName) {
  const std::string m = R"({"command": "trace_id", "request_id": "r-1", "trace_id": "abc"})";
  EXPECT_EQ(metadata_string(m, "trace_id"), "abc");
  EXPECT_EQ(metadata_string(m, "request_id"), "r-1");
  EXPECT_EQ(metadata_string(R"({"trace_id":"abc"})", "trace_id"), "abc");
  EXPECT_EQ(metadata_string(R"({"trace_id" :	"abc"})", "trace_id"), "abc");
  EXPECT_EQ(metadata_string(R"({"xtrace_id": "abc"})", "trace_id"), "");
  EXPECT_EQ(metadata_string(R"({"trace_id": 7})", "trace_id"), "");
  EXPECT_EQ(metadata_string(R"({"trace_id": "a\"b"})", "trace_id"), "");
  EXPECT_EQ(metadata_string(R"({"trace_id": "abc)", "trace_id"), "");
  EXPECT_EQ(metadata_string("{}", "trace_id"), "");
  EXPECT_EQ(metadata_string("", "trace_id"), "");
}

}  // namespace
}  // namespace orders::codec
