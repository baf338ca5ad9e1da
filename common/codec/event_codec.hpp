// Event payload <-> JSON, with the upcaster chain applied on every read.
// Current schema versions: OrderItemAdded 2 (price in integer cents "price_cents"), all others 1.
// OrderItemAdded v1 (legacy): {"product_id","quantity","price": <float dollars>}.
#pragma once
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "common/domain/order.hpp"

namespace orders::codec {

int current_schema_version(std::string_view type);

// Encodes at the current schema version.
nlohmann::json encode_event_data(const domain::Event& e);

struct DecodeError {
  std::string message;
};

// Upgrades (type, schema_version, data) to the current version. Unknown type or version, or a
// malformed payload: DecodeError.
std::variant<nlohmann::json, DecodeError> upcast(std::string_view type, int schema_version,
                                                 nlohmann::json data);

// upcast + decode into the domain event.
std::variant<domain::Event, DecodeError> decode_event(std::string_view type, int schema_version,
                                                      const nlohmann::json& data);

}  // namespace orders::codec
