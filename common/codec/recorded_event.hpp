// The event envelope as stored and served: payload plus the store's bookkeeping.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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
void append_rfc3339_us(std::string& out, std::int64_t unix_us);  // the same, appended to out
// Now, in microseconds since the Unix epoch (the clock of recorded_at_us).
std::int64_t unix_now_us();
// Accepts RFC 3339 with 'Z' or a +hh:mm / -hh:mm offset, optional fraction (up to 9 digits,
// truncated to microseconds). nullopt when malformed or out of range.
std::optional<std::int64_t> parse_rfc3339_us(std::string_view text);

// The audit-trail JSON (docs/http-api.md, GET /orders/{id}/events):
// {"event_id","type","version","position","recorded_at","schema_version","data","metadata"};
// data and schema_version after upcasting to the current version, metadata as stored.
nlohmann::json to_audit_json(const RecordedEvent& e);

// The bus partition of an order (the subjects of common/codec/bus_envelope.hpp): stable FNV-1a 64
// of the order id, modulo kPartitions.
inline constexpr int kPartitions = 16;
int partition_of(std::string_view order_id);

}  // namespace orders::codec
