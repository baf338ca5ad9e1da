#include "common/codec/event_codec.hpp"

#include <cmath>

#include "common/domain/ids.hpp"

namespace orders::codec {

using nlohmann::json;
namespace d = orders::domain;

int current_schema_version(std::string_view type) {
  return type == "OrderItemAdded" ? 2 : 1;
}

json encode_event_data(const d::Event& e) {
  return std::visit(d::Overloaded{
                        [](const d::OrderCreated& x) {
                          return json{{"order_id", x.order_id}, {"customer_id", x.customer_id}};
                        },
                        [](const d::OrderItemAdded& x) {
                          return json{{"product_id", x.product_id},
                                      {"quantity", x.quantity},
                                      {"price_cents", x.price}};
                        },
                        [](const d::OrderItemRemoved& x) {
                          return json{{"product_id", x.product_id}};
                        },
                        [](const d::OrderConfirmed&) { return json::object(); },
                        [](const d::OrderShipped& x) {
                          return json{{"tracking_number", x.tracking_number}};
                        },
                        [](const d::OrderDelivered&) { return json::object(); },
                    },
                    e);
}

namespace {

bool is_int(const json& v) {
  return v.is_number_integer();
}  // signed or unsigned, not float

// OrderItemAdded v1 -> v2: "price" float dollars -> "price_cents" integer cents.
std::variant<json, DecodeError> item_added_v1_to_v2(json data) {
  auto it = data.find("price");
  if (it == data.end() || !it->is_number())
    return DecodeError{"OrderItemAdded v1 without numeric price"};
  const double dollars = it->get<double>();
  if (!std::isfinite(dollars) || dollars < 0 || dollars > 1e7) {
    return DecodeError{"OrderItemAdded v1 price out of range"};
  }
  data["price_cents"] = static_cast<std::int64_t>(std::llround(dollars * 100.0));
  data.erase("price");
  return data;
}

}  // namespace

std::variant<json, DecodeError> upcast(std::string_view type, int schema_version, json data) {
  if (!data.is_object()) return DecodeError{"event data is not an object"};
  const int current = current_schema_version(type);
  if (schema_version < 1 || schema_version > current) {
    return DecodeError{"unknown schema_version " + std::to_string(schema_version) + " for " +
                       std::string(type)};
  }
  // The chain: each step lifts one version. Add a step here when a type gains a version.
  while (schema_version < current) {
    std::variant<json, DecodeError> next = DecodeError{"no upcaster"};
    if (type == "OrderItemAdded" && schema_version == 1)
      next = item_added_v1_to_v2(std::move(data));
    if (auto* err = std::get_if<DecodeError>(&next)) return *err;
    data = std::get<json>(std::move(next));
    ++schema_version;
  }
  return data;
}

namespace {

std::optional<std::string> get_string(const json& data, const char* key) {
  auto it = data.find(key);
  if (it == data.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<std::int64_t> get_int(const json& data, const char* key) {
  auto it = data.find(key);
  if (it == data.end() || !is_int(*it)) return std::nullopt;
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
    return std::nullopt;
  return it->get<std::int64_t>();
}

}  // namespace

std::variant<d::Event, DecodeError> decode_event(std::string_view type, int schema_version,
                                                 const json& stored) {
  auto lifted = upcast(type, schema_version, stored);
  if (auto* err = std::get_if<DecodeError>(&lifted)) return *err;
  const json& data = std::get<json>(lifted);
  const auto bad = [&](const char* what) {
    return DecodeError{std::string(type) + ": missing or mistyped " + what};
  };
  if (type == "OrderCreated") {
    auto order_id = get_string(data, "order_id");
    auto customer_id = get_string(data, "customer_id");
    if (!order_id) return bad("order_id");
    if (!customer_id) return bad("customer_id");
    return d::Event{d::OrderCreated{*order_id, *customer_id}};
  }
  if (type == "OrderItemAdded") {
    auto product_id = get_string(data, "product_id");
    auto quantity = get_int(data, "quantity");
    auto price = get_int(data, "price_cents");
    if (!product_id) return bad("product_id");
    if (!quantity) return bad("quantity");
    if (!price) return bad("price_cents");
    return d::Event{d::OrderItemAdded{*product_id, *quantity, *price}};
  }
  if (type == "OrderItemRemoved") {
    auto product_id = get_string(data, "product_id");
    if (!product_id) return bad("product_id");
    return d::Event{d::OrderItemRemoved{*product_id}};
  }
  if (type == "OrderConfirmed") return d::Event{d::OrderConfirmed{}};
  if (type == "OrderShipped") {
    auto tracking = get_string(data, "tracking_number");
    if (!tracking) return bad("tracking_number");
    return d::Event{d::OrderShipped{*tracking}};
  }
  if (type == "OrderDelivered") return d::Event{d::OrderDelivered{}};
  return DecodeError{"unknown event type " + std::string(type)};
}

}  // namespace orders::codec
