// The bus message (JetStream) shared by the relay (writer) and the projector (reader): the subject
// scheme and the JSON envelope. Stream NATS_STREAM (default "ORDERS") holds the subjects
// "<stream-lower>.events.<partition>"; Nats-Msg-Id is the event_id and the stream sequence equals
// the event's global_position. Pure (no I/O).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

// The same envelope as a JSON document (field for field what write_wire_json writes).
nlohmann::json to_wire_json(const RecordedEvent& e);
std::optional<RecordedEvent> from_wire_json(std::string_view body);
// The same with a full JSON parse of the body (from_wire_json takes a faster path for envelopes
// as write_wire_json writes them and falls back to this for anything else).
std::optional<RecordedEvent> parse_wire_json_fully(std::string_view body);

}  // namespace orders::codec
