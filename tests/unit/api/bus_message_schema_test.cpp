// What the relay writes for every event type at its current schema version, and for a legacy
// OrderItemAdded v1 as stored, passes tests/support/validate_events.py against api/events/: the
// envelope (write_wire_json), its data (encode_event_data), the metadata the write-side records
// (event_metadata) and the bus headers (write_bus_headers). The validator itself must refuse a
// message whose headers disagree with its body.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/codec/bus_envelope.hpp"
#include "common/codec/event_codec.hpp"
#include "common/domain/order.hpp"
#include "write-side/commands/event_metadata.hpp"

namespace orders {
namespace {

namespace d = domain;

struct Written {
  std::string body;
  codec::BusHeaders headers;
};

Written relay_message(const std::string& type, int schema_version, const std::string& data, int n) {
  write_side::CommandTrace t;
  t.request_id = "req-" + std::to_string(n);
  t.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  t.span_id = "00f067aa0ba902b7";
  t.traceparent = "00-" + t.trace_id + "-" + t.span_id + "-01";
  t.correlation_id = t.trace_id;
  const std::string metadata = write_side::event_metadata("AddItem", t, t.request_id);
  const std::string event_id = "0190c3a2-7b1e-7abc-8def-0123456789a" + std::to_string(n % 10);
  codec::WireFields f;
  f.event_id = event_id;
  f.stream_id = "order-1";
  f.version = n;
  f.position = 100 + n;
  f.global_position = n;
  f.type = type;
  f.schema_version = schema_version;
  f.recorded_at_us = 1764806400000000 + n;
  f.data_json = data;
  f.metadata_json = metadata;
  Written w;
  codec::write_wire_json(w.body, f);
  codec::write_bus_headers(w.headers, f);
  w.headers.emplace_back("Nats-Msg-Id", event_id);  // added by the publisher
  return w;
}

// Runs the validator over the messages; its exit code.
int validate(const std::vector<Written>& messages, const std::string& name) {
  const auto file = std::filesystem::temp_directory_path() / (name + ".jsonl");
  {
    std::ofstream out(file);
    for (const auto& m : messages) {
      nlohmann::json headers = nlohmann::json::object();
      for (const auto& [k, v] : m.headers) headers[k] = v;
      out << nlohmann::json{{"headers", headers}, {"body", m.body}}.dump() << "\n";
    }
  }
  const std::string root = ORDERS_SOURCE_DIR;
  const std::string cmd = "python3 " + root + "/tests/support/validate_events.py " + root +
                          "/api/events " + file.string();
  const int rc = std::system(cmd.c_str());
  std::filesystem::remove(file);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::vector<Written> one_of_each() {
  const std::vector<d::Event> events = {d::OrderCreated{"order-1", "cust-1"},
                                        d::OrderItemAdded{"p-1", 3, 1250},
                                        d::OrderItemRemoved{"p-1"},
                                        d::OrderConfirmed{},
                                        d::OrderShipped{"TRK-1"},
                                        d::OrderDelivered{}};
  std::vector<Written> out;
  int n = 0;
  for (const auto& e : events) {
    const std::string type(d::event_type(e));
    out.push_back(relay_message(type, codec::current_schema_version(type),
                                codec::encode_event_data(e).dump(), ++n));
  }
  out.push_back(
      relay_message("OrderItemAdded", 1, R"({"product_id":"p-2","quantity":1,"price":12.5})", ++n));
  return out;
}

TEST(BusMessageSchema, EveryEventTypeTheRelayWritesMatchesTheSchemas) {
  EXPECT_EQ(validate(one_of_each(), "bus_message_schema_valid"), 0);
}

TEST(BusMessageSchema, AMessageWhoseHeadersDisagreeWithItsBodyIsRefused) {
  auto messages = one_of_each();
  messages.resize(1);
  messages[0].headers[4].second = "order-2";  // ce-subject
  EXPECT_EQ(validate(messages, "bus_message_schema_invalid"), 1);
}

}  // namespace
}  // namespace orders
