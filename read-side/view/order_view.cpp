#include "read-side/view/order_view.hpp"

#include "common/codec/event_codec.hpp"

namespace orders::read_side {

namespace {

std::size_t line_of(const OrderView& view, const std::string& product_id) {
  const auto& items = view.state.items;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].product_id == product_id) return i;
  }
  return items.size();
}

// Before domain::evolve applies an item event: the line it creates, changes or removes (evolve
// appends a new line and erases a removed one, so the stamps keep the items' indexes).
void stamp_lines(OrderView& view, const domain::Event& event, std::int64_t version) {
  if (view.lines.size() != view.state.items.size()) view.lines.resize(view.state.items.size());
  if (const auto* added = std::get_if<domain::OrderItemAdded>(&event)) {
    const auto i = line_of(view, added->product_id);
    if (i == view.lines.size()) {
      view.lines.push_back(LineStamp{version, version});
    } else {
      view.lines[i].changed = version;
    }
  } else if (const auto* removed = std::get_if<domain::OrderItemRemoved>(&event)) {
    const auto i = line_of(view, removed->product_id);
    if (i == view.lines.size()) return;
    view.lines.erase(view.lines.begin() + static_cast<std::ptrdiff_t>(i));
    view.removed.push_back(RemovedLine{removed->product_id, version});
  }
}

}  // namespace

bool OrderView::operator==(const OrderView& o) const {
  if (lines.size() != o.lines.size()) return false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].created != o.lines[i].created) return false;
  }
  return state == o.state && created_at_us == o.created_at_us &&
         confirmed_at_us == o.confirmed_at_us && shipped_at_us == o.shipped_at_us &&
         delivered_at_us == o.delivered_at_us && last_global_position == o.last_global_position;
}

std::variant<FoldOutcome, FoldError> fold_event(OrderView& view, const codec::RecordedEvent& e) {
  if (e.version <= view.state.version) return FoldOutcome::Duplicate;
  if (e.version > view.state.version + 1) return FoldOutcome::Gap;
  auto decoded = codec::decode_event(e.type, e.schema_version, e.data);
  if (const auto* err = std::get_if<codec::DecodeError>(&decoded)) {
    return FoldError{"event " + e.event_id + " (" + e.type + " v" +
                     std::to_string(e.schema_version) + ") of order " + e.stream_id +
                     " does not decode: " + err->message};
  }
  const auto& event = std::get<domain::Event>(decoded);
  if (!view.state.exists() && !std::holds_alternative<domain::OrderCreated>(event)) {
    return FoldError{"order " + e.stream_id + " starts with " + e.type + ", not OrderCreated"};
  }
  stamp_lines(view, event, e.version);
  view.state = domain::evolve(std::move(view.state), event);
  std::visit(domain::Overloaded{
                 [&](const domain::OrderCreated&) { view.created_at_us = e.recorded_at_us; },
                 [&](const domain::OrderConfirmed&) { view.confirmed_at_us = e.recorded_at_us; },
                 [&](const domain::OrderShipped&) { view.shipped_at_us = e.recorded_at_us; },
                 [&](const domain::OrderDelivered&) { view.delivered_at_us = e.recorded_at_us; },
                 [](const auto&) {},
             },
             event);
  if (e.global_position) view.last_global_position = *e.global_position;
  return FoldOutcome::Applied;
}

std::variant<std::map<std::string, OrderView>, FoldError> fold_all(
    const std::vector<codec::RecordedEvent>& events) {
  std::map<std::string, OrderView> views;
  for (const auto& e : events) {
    auto& view = views[e.stream_id];
    auto outcome = fold_event(view, e);
    if (auto* err = std::get_if<FoldError>(&outcome)) return std::move(*err);
    if (std::get<FoldOutcome>(outcome) == FoldOutcome::Gap) {
      return FoldError{"order " + e.stream_id + ": version " + std::to_string(e.version) +
                       " follows version " + std::to_string(view.state.version)};
    }
  }
  return views;
}

nlohmann::json lines_to_json(const OrderView& v) {
  auto out = nlohmann::json::array();
  const auto& items = v.state.items;
  for (std::size_t i = 0; i < items.size(); ++i) {
    out.push_back({{"product_id", items[i].product_id},
                   {"quantity", items[i].quantity},
                   {"price_cents", items[i].price},
                   {"line", i < v.lines.size() ? v.lines[i].created : 0}});
  }
  return out;
}

bool set_lines_from_json(OrderView& v, const nlohmann::json& j) {
  if (!j.is_array()) return false;
  v.state.items.clear();
  v.lines.clear();
  v.state.items.reserve(j.size());
  v.lines.reserve(j.size());
  for (const auto& e : j) {
    if (!e.is_object()) return false;
    auto p = e.find("product_id");
    auto q = e.find("quantity");
    auto c = e.find("price_cents");
    auto l = e.find("line");
    if (p == e.end() || !p->is_string() || q == e.end() || !q->is_number_integer() ||
        c == e.end() || !c->is_number_integer() || l == e.end() || !l->is_number_integer()) {
      return false;
    }
    v.state.items.push_back(
        domain::Item{p->get<std::string>(), q->get<std::int64_t>(), c->get<std::int64_t>()});
    v.lines.push_back(LineStamp{l->get<std::int64_t>(), 0});
  }
  return true;
}

std::optional<domain::Status> parse_status(std::string_view s) {
  for (domain::Status st : kStoredStatuses) {
    if (domain::to_string(st) == s) return st;
  }
  return std::nullopt;
}

namespace {
nlohmann::json opt_us(const std::optional<std::int64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}
}  // namespace

nlohmann::json orders_record(const OrderView& v) {
  const auto& s = v.state;
  return {
      {"order_id", s.order_id},
      {"customer_id", s.customer_id},
      {"status", domain::to_string(s.status)},
      {"items", lines_to_json(v)},
      {"total_cents", domain::total_cents(s)},
      {"item_count", static_cast<std::int64_t>(s.items.size())},
      {"tracking_number",
       s.tracking_number.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.tracking_number)},
      {"created_at_us", opt_us(v.created_at_us)},
      {"confirmed_at_us", opt_us(v.confirmed_at_us)},
      {"shipped_at_us", opt_us(v.shipped_at_us)},
      {"delivered_at_us", opt_us(v.delivered_at_us)},
      {"version", s.version},
      {"last_global_position", v.last_global_position},
  };
}

nlohmann::json customer_orders_record(const OrderView& v) {
  const auto& s = v.state;
  return {
      {"order_id", s.order_id},
      {"customer_id", s.customer_id},
      {"status", domain::to_string(s.status)},
      {"items", lines_to_json(v)},
      {"total_cents", domain::total_cents(s)},
      {"version", s.version},
      {"last_global_position", v.last_global_position},
  };
}

}  // namespace orders::read_side
