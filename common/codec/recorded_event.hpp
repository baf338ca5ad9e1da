// The event envelope as stored and served: payload plus the store's bookkeeping.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/domain/order.hpp"

namespace orders::codec {

struct RecordedEvent {
  std::string event_id;       // UUID text
  std::string stream_id;      // the order id
  std::int64_t version = 0;   // 1-based within the stream
  std::int64_t position = 0;  // store position (unique, increasing within a stream)
  std::optional<std::int64_t> global_position;  // dense commit order, once the relay sequenced it
  std::string type;
  int schema_version = 0;           // as stored (before upcasting)
  std::int64_t recorded_at_us = 0;  // microseconds since the Unix epoch, UTC
  nlohmann::json data;              // as stored (before upcasting)
  nlohmann::json metadata;
};

// RFC 3339 UTC with microseconds: 2026-11-26T23:22:45.123456Z
std::string format_rfc3339_us(std::int64_t unix_us);
// Now, in microseconds since the Unix epoch (the clock of recorded_at_us).
std::int64_t unix_now_us();
// Accepts RFC 3339 with 'Z' or a +hh:mm / -hh:mm offset, optional fraction (up to 9 digits,
// truncated to microseconds). nullopt when malformed or out of range.
std::optional<std::int64_t> parse_rfc3339_us(std::string_view text);

// The audit-trail JSON of DESIGN.md: {"event_id","type","version","position","recorded_at",
// "schema_version","data"}; data and schema_version after upcasting to the current version.
nlohmann::json to_audit_json(const RecordedEvent& e);

}  // namespace orders::codec

namespace orders::codec {

// ---- the bus message (JetStream), shared by the relay (writer) and the projector (reader) ----
// Stream (setting NATS_STREAM, default "ORDERS") with subjects "<stream-lower>.events.<partition>".
// The message id header Nats-Msg-Id is the event_id; the JetStream stream sequence equals the
// event's global_position. Body: to_wire_json(e).dump().
inline constexpr int kPartitions = 16;
// Stable FNV-1a 64 of the order id, modulo kPartitions.
int partition_of(std::string_view order_id);
std::string subject_for(std::string_view subject_prefix,
                        std::string_view order_id);  // "orders.events.7"

// {"event_id","stream_id","version","position","global_position","type","schema_version",
//  "recorded_at_us","data","metadata"}; data as stored (readers upcast).
nlohmann::json to_wire_json(const RecordedEvent& e);
std::optional<RecordedEvent> from_wire_json(std::string_view body);
// The same with a full JSON parse of the body (from_wire_json takes a faster path for envelopes
// as the relay writes them and falls back to this for anything else).
std::optional<RecordedEvent> parse_wire_json_fully(std::string_view body);

}  // namespace orders::codec
