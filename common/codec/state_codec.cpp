#include "common/codec/state_codec.hpp"

namespace orders::codec {

using nlohmann::json;
namespace d = orders::domain;

json state_to_json(const d::OrderState& s) {
  json items = json::array();
  for (const auto& item : s.items) {
    items.push_back({{"product_id", item.product_id},
                     {"quantity", item.quantity},
                     {"price", d::format_cents(item.price)}});
  }
  return {{"order_id", s.order_id},
          {"customer_id", s.customer_id},
          {"status", std::string(d::to_string(s.status))},
          {"items", std::move(items)},
          {"total_amount", d::format_cents(d::total_cents(s))},
          {"version", s.version}};
}

json state_to_snapshot_json(const d::OrderState& s) {
  json items = json::array();
  for (const auto& item : s.items) {
    items.push_back({{"product_id", item.product_id},
                     {"quantity", item.quantity},
                     {"price_cents", item.price}});
  }
  return {{"order_id", s.order_id},
          {"customer_id", s.customer_id},
          {"status", static_cast<int>(s.status)},
          {"items", std::move(items)},
          {"tracking_number", s.tracking_number},
          {"version", s.version}};
}

std::optional<d::OrderState> state_from_snapshot_json(const json& j) {
  try {
    d::OrderState s;
    s.order_id = j.at("order_id").get<std::string>();
    s.customer_id = j.at("customer_id").get<std::string>();
    const int status = j.at("status").get<int>();
    if (status < static_cast<int>(d::Status::None) ||
        status > static_cast<int>(d::Status::Delivered))
      return std::nullopt;
    s.status = static_cast<d::Status>(status);
    for (const auto& item : j.at("items")) {
      s.items.push_back(d::Item{item.at("product_id").get<std::string>(),
                                item.at("quantity").get<std::int64_t>(),
                                item.at("price_cents").get<std::int64_t>()});
    }
    s.tracking_number = j.at("tracking_number").get<std::string>();
    s.version = j.at("version").get<std::int64_t>();
    return s;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace orders::codec
