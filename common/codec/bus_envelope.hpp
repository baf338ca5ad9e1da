// The bus message (JetStream) shared by the relay (writer) and the projector (reader): the subject
// scheme and the JSON envelope. Stream NATS_STREAM (default "ORDERS") holds the subjects
// "<stream-lower>.events.<partition>"; Nats-Msg-Id is the event_id and the stream sequence equals
// the event's global_position. Pure (no I/O).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/codec/recorded_event.hpp"

namespace orders::codec {

std::string stream_subject_prefix(std::string_view stream);                   // "orders.events"
std::string stream_subject_filter(std::string_view stream);                   // "orders.events.>"
std::string partition_subject(std::string_view stream, int partition);        // "orders.events.7"
std::string subject_for(std::string_view stream, std::string_view order_id);  // its partition's

// The envelope's fields as the relay has them: data and metadata are JSON text already (jsonb
// from Postgres), copied into the body instead of parsed and re-serialized.
struct WireFields {
  std::string_view event_id;
  std::string_view stream_id;
  std::int64_t version = 0;
  std::int64_t position = 0;
  std::optional<std::int64_t> global_position;
  std::string_view type;
  std::int64_t schema_version = 0;
  std::int64_t recorded_at_us = 0;
  std::string_view data_json;
  std::string_view metadata_json;
};

// The one envelope writer: {"event_id","stream_id","version","position","global_position","type",
// "schema_version","recorded_at_us","data","metadata"} into `out` (cleared first). The fast path
// of from_wire_json reads exactly this form.
void write_wire_json(std::string& out, const WireFields& fields);
std::string wire_json(const RecordedEvent& e);  // write_wire_json of e (data as stored)

// The headers of a bus message besides JetStream's own: CloudEvents 1.0 in binary content mode
// (NATS protocol binding: one "ce-" header per attribute; the CloudEvent's data is the message
// body, the envelope above, hence content-type application/json) and the W3C traceparent the
// write-side recorded in the event's metadata (docs/design.md, "Bus messages").
using BusHeaders = std::vector<std::pair<std::string, std::string>>;
inline constexpr std::string_view kCloudEventsSource = "/orders/write-side";
inline constexpr std::string_view kCloudEventsTypePrefix = "orders.";  // + the event type
// Fills `out` (cleared of values first) with ce-specversion "1.0", ce-id (event_id), ce-source,
// ce-type ("orders.OrderCreated"), ce-subject (stream_id), ce-time (recorded_at, RFC 3339 with
// microseconds), content-type, and traceparent when the metadata holds a well-formed one. The
// strings of `out` are reused: a relay filling the same vector for every message allocates
// nothing once they have grown.
void write_bus_headers(BusHeaders& out, const WireFields& fields);
// A string member of metadata JSON text (metadata is a flat object: the first member named
// `key`), as written without escapes; "" when absent, not a string or escaped. For the relay's
// hot path, which has the metadata as text and needs one field of it.
std::string_view metadata_string(std::string_view metadata_json, std::string_view key);

// The same envelope as a JSON document (field for field what write_wire_json writes).
nlohmann::json to_wire_json(const RecordedEvent& e);
std::optional<RecordedEvent> from_wire_json(std::string_view body);
// The same with a full JSON parse of the body (from_wire_json takes a faster path for envelopes
// as write_wire_json writes them and falls back to this for anything else).
std::optional<RecordedEvent> parse_wire_json_fully(std::string_view body);

}  // namespace orders::codec
