#include "common/codec/command_codec.hpp"

#include <set>
#include <vector>

#include "common/domain/ids.hpp"
#include "common/domain/money.hpp"

namespace orders::codec {

using nlohmann::json;
namespace d = orders::domain;

namespace {

constexpr int kMaxDepth = 16;

}  // namespace

Parsed<json> parse_body(std::string_view body, bool allow_empty) {
  if (body.empty()) {
    if (allow_empty) return json::object();
    return ValidationError{"request body is empty; a JSON object is required"};
  }
  // Track keys per open object to reject duplicates; depth guards against deep nesting.
  std::vector<std::set<std::string>> open_objects;
  bool duplicate = false;
  bool too_deep = false;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxDepth) too_deep = true;
        if (event == json::parse_event_t::object_start) open_objects.emplace_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string() &&
            !open_objects.back().insert(parsed.get<std::string>()).second) {
          duplicate = true;
        }
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      default:
        break;
    }
    return !too_deep;  // stop building the tree once too deep
  };
  json doc;
  try {
    doc = json::parse(body.begin(), body.end(), cb, /*allow_exceptions=*/true,
                      /*ignore_comments=*/false);
  } catch (const json::exception&) {  // parse_error, and out_of_range for numbers like 1e3088
    return ValidationError{"request body is not valid JSON"};
  }
  if (too_deep) return ValidationError{"JSON nesting is deeper than 16 levels"};
  if (duplicate) return ValidationError{"JSON object has a duplicate key"};
  if (!doc.is_object()) return ValidationError{"request body must be a JSON object"};
  return doc;
}

std::optional<ValidationError> validate_id(std::string_view what, std::string_view id) {
  if (d::valid_id(id)) return std::nullopt;
  return ValidationError{std::string(what) +
                         " must be 1-128 characters of letters, digits, '-', '_', '.', ':'"};
}

namespace {

// Reads a required (or optional) id field; returns an error or the value ("" if optional+absent).
std::variant<std::string, ValidationError> id_field(const json& body, const char* key,
                                                    bool required) {
  auto it = body.find(key);
  if (it == body.end() || (!required && it->is_null())) {
    if (required) return ValidationError{std::string(key) + " is required"};
    return std::string{};
  }
  if (!it->is_string()) return ValidationError{std::string(key) + " must be a string"};
  const auto& value = it->get_ref<const std::string&>();
  if (auto err = validate_id(key, value)) return *err;
  return value;
}

}  // namespace

Parsed<d::CreateOrder> parse_create_order(const json& body) {
  auto order_id = id_field(body, "order_id", false);
  if (auto* e = std::get_if<ValidationError>(&order_id)) return *e;
  auto customer_id = id_field(body, "customer_id", true);
  if (auto* e = std::get_if<ValidationError>(&customer_id)) return *e;
  return d::CreateOrder{std::get<std::string>(order_id), std::get<std::string>(customer_id)};
}

std::optional<d::Cents> parse_price(const json& v) {
  std::optional<d::Cents> cents;
  if (v.is_string()) {
    cents = d::parse_decimal_cents(v.get_ref<const std::string&>());
  } else if (v.is_number_unsigned() || v.is_number_integer()) {
    if (v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0)
      return std::nullopt;
    const auto whole = v.get<std::uint64_t>();
    if (whole > static_cast<std::uint64_t>(d::kMaxPriceCents / 100)) return std::nullopt;
    cents = static_cast<d::Cents>(whole) * 100;
  } else if (v.is_number_float()) {
    // The shortest text that round-trips the double is what the client wrote by value
    // (10.1 -> "10.1", 10.100 -> "10.1", 10.001 -> "10.001"); parse that exactly.
    cents = d::parse_decimal_cents(v.dump());
  }
  if (!cents || *cents < 0 || *cents > d::kMaxPriceCents) return std::nullopt;
  return cents;
}

Parsed<d::AddItem> parse_add_item(const json& body) {
  auto product_id = id_field(body, "product_id", true);
  if (auto* e = std::get_if<ValidationError>(&product_id)) return *e;

  auto q = body.find("quantity");
  if (q == body.end()) return ValidationError{"quantity is required"};
  if (!q->is_number_integer()) return ValidationError{"quantity must be a JSON integer"};
  const bool in_range =
      q->is_number_unsigned()
          ? q->get<std::uint64_t>() <= static_cast<std::uint64_t>(d::kMaxItemQuantity)
          : (q->get<std::int64_t>() >= 1 && q->get<std::int64_t>() <= d::kMaxItemQuantity);
  if (!in_range || (q->is_number_unsigned() && q->get<std::uint64_t>() == 0)) {
    return ValidationError{"quantity must be an integer from 1 to 1000000"};
  }

  auto p = body.find("price");
  if (p == body.end()) return ValidationError{"price is required"};
  if (!p->is_number() && !p->is_string()) {
    return ValidationError{"price must be a number or a decimal string"};
  }
  auto cents = parse_price(*p);
  if (!cents) {
    return ValidationError{"price must be from 0 to 1000000.00 with at most 2 decimal places"};
  }
  return d::AddItem{std::get<std::string>(product_id), q->get<std::int64_t>(), *cents};
}

Parsed<d::ShipOrder> parse_ship_order(const json& body) {
  auto tracking = id_field(body, "tracking_number", true);
  if (auto* e = std::get_if<ValidationError>(&tracking)) return *e;
  return d::ShipOrder{std::get<std::string>(tracking)};
}

}  // namespace orders::codec
