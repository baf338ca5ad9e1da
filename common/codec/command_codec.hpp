// HTTP request bodies -> validated domain commands. All input validation (400) lives here.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "common/domain/order.hpp"

namespace orders::codec {

struct ValidationError {
  std::string detail;  // safe to show the client
};

template <class T>
using Parsed = std::variant<T, ValidationError>;

// Strict JSON parse of a request body: must be an object, no duplicate keys, nesting depth <= 16,
// valid UTF-8. An empty body is treated as {} where allowed_empty.
Parsed<nlohmann::json> parse_body(std::string_view body, bool allow_empty);

// {"order_id"?, "customer_id"}; order_id empty -> caller generates one (returned as "").
Parsed<domain::CreateOrder> parse_create_order(const nlohmann::json& body);
// {"product_id", "quantity" (JSON integer 1..1e6), "price" (number or decimal string, <= 2 dp,
// 0..1e6)}
Parsed<domain::AddItem> parse_add_item(const nlohmann::json& body);
// {"tracking_number"}
Parsed<domain::ShipOrder> parse_ship_order(const nlohmann::json& body);

// Price as a JSON number or string -> cents (0..kMaxPriceCents, <= 2 decimals by value).
std::optional<domain::Cents> parse_price(const nlohmann::json& v);

// Validates an id taken from a URL path segment (already percent-decoded).
std::optional<ValidationError> validate_id(std::string_view what, std::string_view id);

}  // namespace orders::codec
