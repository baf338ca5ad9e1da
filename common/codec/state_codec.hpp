// Order state -> the JSON shape shared by write-side /state and read-side /orders/{id}.
#pragma once
#include <nlohmann/json.hpp>

#include "common/domain/order.hpp"

namespace orders::codec {

// {"order_id","customer_id","status","items":[{"product_id","quantity","price"}],
//  "total_amount","version"}; money as decimal strings.
nlohmann::json state_to_json(const domain::OrderState& s);

// Snapshot form (lossless, versioned by kStateSchemaVersion). from_snapshot_json returns nullopt
// for an unknown shape.
inline constexpr int kStateSchemaVersion = 1;
nlohmann::json state_to_snapshot_json(const domain::OrderState& s);
std::optional<domain::OrderState> state_from_snapshot_json(const nlohmann::json& j);

}  // namespace orders::codec
