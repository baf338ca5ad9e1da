// The read model of one order as both projections see it, and the pure fold of recorded events
// into it. No I/O: the projector (live, from the bus) and rebuild-projection (from the event
// store) share this fold; each writes the resulting views with its own SQL.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/codec/recorded_event.hpp"
#include "common/domain/order.hpp"

namespace orders::read_side {

// Where a line of the order came from: the version that created it (its sort key in the read
// model's order_items) and the last version that changed it (what a write of the view since a
// stored version must upsert).
struct LineStamp {
  std::int64_t created = 0;
  std::int64_t changed = 0;  // 0: as stored
};

struct RemovedLine {
  std::string product_id;
  std::int64_t version = 0;  // of the OrderItemRemoved
};

struct OrderView {
  domain::OrderState state;  // order_id, customer_id, status, items, tracking_number, version
  std::optional<std::int64_t> created_at_us;
  std::optional<std::int64_t> confirmed_at_us;
  std::optional<std::int64_t> shipped_at_us;
  std::optional<std::int64_t> delivered_at_us;
  std::int64_t last_global_position = 0;
  std::vector<LineStamp> lines;      // one per state.items entry, same index
  std::vector<RemovedLine> removed;  // lines removed since the view was last written
  // The read model's content: everything but the change bookkeeping (changed, removed).
  bool operator==(const OrderView& o) const;
};

enum class FoldOutcome {
  Applied,    // version == stored + 1: applied
  Duplicate,  // version <= stored: already applied, skipped
  Gap,        // version > stored + 1: the missing versions must be applied first (not applied)
};

struct FoldError {
  std::string message;  // an event that does not decode (unknown type/version, bad payload)
};

// Applies one recorded event to a view (decoding with upcasting). The view is unchanged unless
// the outcome is Applied.
std::variant<FoldOutcome, FoldError> fold_event(OrderView& view, const codec::RecordedEvent& e);

// Folds many events (any order of streams, each stream's events in version order; duplicates
// skipped) into views keyed by order id. A gap or a decode error stops the fold with an error.
std::variant<std::map<std::string, OrderView>, FoldError> fold_all(
    const std::vector<codec::RecordedEvent>& events);

// ---- row encodings shared by the SQL writers (live projector and rebuild) ----
// The view's lines as rows of order_items, in line order:
// [{"product_id","quantity","price_cents","line"}]
nlohmann::json lines_to_json(const OrderView& v);
// Sets v.state.items and v.lines from lines_to_json's shape (sorted by line); false when the JSON
// is not that shape.
bool set_lines_from_json(OrderView& v, const nlohmann::json& j);

// Every status a stored order can have (domain::Status without None).
inline constexpr domain::Status kStoredStatuses[] = {
    domain::Status::Draft, domain::Status::Confirmed, domain::Status::Shipped,
    domain::Status::Delivered};
std::optional<domain::Status> parse_status(std::string_view s);  // "Draft", ... (not "None")

// One row of the orders table as a JSON object whose keys are the column names (for
// jsonb_to_recordset), with its order_items rows under "items": order_id, customer_id, status,
// items, total_cents, item_count,
// tracking_number (null when empty), created_at_us, confirmed_at_us, shipped_at_us,
// delivered_at_us (null when absent), version, last_global_position.
nlohmann::json orders_record(const OrderView& v);
// One row of customer_orders, its customer_order_items rows under "items": order_id, customer_id,
// status, items, total_cents, version,
// last_global_position.
nlohmann::json customer_orders_record(const OrderView& v);

}  // namespace orders::read_side
