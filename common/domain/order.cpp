#include "common/domain/order.hpp"

#include <algorithm>
#include <stdexcept>

namespace orders::domain {

std::string_view to_string(Status s) {
  switch (s) {
    case Status::None:
      return "None";
    case Status::Draft:
      return "Draft";
    case Status::Confirmed:
      return "Confirmed";
    case Status::Shipped:
      return "Shipped";
    case Status::Delivered:
      return "Delivered";
  }
  return "None";
}

std::optional<Cents> checked_total_cents(const OrderState& s) {
  Cents total = 0;
  for (const auto& item : s.items) {
    Cents line = 0;
    if (__builtin_mul_overflow(item.quantity, item.price, &line) ||
        __builtin_add_overflow(total, line, &total))
      return std::nullopt;
  }
  return total;
}

Cents total_cents(const OrderState& s) {
  if (auto total = checked_total_cents(s)) return *total;
  throw std::overflow_error("order " + s.order_id + ": total does not fit in 64-bit cents");
}

std::string_view event_type(const Event& e) {
  return std::visit(
      Overloaded{
          [](const OrderCreated&) { return std::string_view{"OrderCreated"}; },
          [](const OrderItemAdded&) { return std::string_view{"OrderItemAdded"}; },
          [](const OrderItemRemoved&) { return std::string_view{"OrderItemRemoved"}; },
          [](const OrderConfirmed&) { return std::string_view{"OrderConfirmed"}; },
          [](const OrderShipped&) { return std::string_view{"OrderShipped"}; },
          [](const OrderDelivered&) { return std::string_view{"OrderDelivered"}; },
      },
      e);
}

std::string_view command_name(const Command& c) {
  return std::visit(Overloaded{
                        [](const CreateOrder&) { return std::string_view{"CreateOrder"}; },
                        [](const AddItem&) { return std::string_view{"AddItem"}; },
                        [](const RemoveItem&) { return std::string_view{"RemoveItem"}; },
                        [](const ConfirmOrder&) { return std::string_view{"ConfirmOrder"}; },
                        [](const ShipOrder&) { return std::string_view{"ShipOrder"}; },
                        [](const DeliverOrder&) { return std::string_view{"DeliverOrder"}; },
                    },
                    c);
}

std::string_view to_string(RejectionCode c) {
  switch (c) {
    case RejectionCode::OrderNotFound:
      return "order-not-found";
    case RejectionCode::AlreadyExists:
      return "order-already-exists";
    case RejectionCode::NotDraft:
      return "order-not-draft";
    case RejectionCode::ItemNotInOrder:
      return "item-not-in-order";
    case RejectionCode::NoItems:
      return "order-has-no-items";
    case RejectionCode::NotConfirmed:
      return "order-not-confirmed";
    case RejectionCode::NotShipped:
      return "order-not-shipped";
    case RejectionCode::PriceMismatch:
      return "price-mismatch";
    case RejectionCode::QuantityTooLarge:
      return "quantity-too-large";
    case RejectionCode::TotalTooLarge:
      return "order-total-too-large";
    case RejectionCode::TooManyLines:
      return "too-many-lines";
  }
  return "rejected";
}

namespace {

Rejection reject(RejectionCode code, std::string detail) {
  return Rejection{code, std::move(detail)};
}

const Item* find_item(const OrderState& s, std::string_view product_id) {
  auto it = std::find_if(s.items.begin(), s.items.end(),
                         [&](const Item& i) { return i.product_id == product_id; });
  return it == s.items.end() ? nullptr : &*it;
}

std::string status_detail(const OrderState& s, std::string_view wanted) {
  return "order " + s.order_id + " is " + std::string(to_string(s.status)) + ", not " +
         std::string(wanted);
}

}  // namespace

Decision decide(const Command& command, const OrderState& state, const OrderLimits& limits) {
  if (const auto* create = std::get_if<CreateOrder>(&command)) {
    if (state.exists()) {
      return reject(RejectionCode::AlreadyExists, "order " + create->order_id + " already exists");
    }
    return std::vector<Event>{OrderCreated{create->order_id, create->customer_id}};
  }
  if (!state.exists()) return reject(RejectionCode::OrderNotFound, "order not found");

  return std::visit(
      Overloaded{
          [](const CreateOrder&) -> Decision { return std::vector<Event>{}; },  // handled above
          [&](const AddItem& c) -> Decision {
            if (state.status != Status::Draft)
              return reject(RejectionCode::NotDraft, status_detail(state, "Draft"));
            if (const Item* existing = find_item(state, c.product_id)) {
              if (existing->price != c.price)
                return reject(RejectionCode::PriceMismatch,
                              "product " + c.product_id + " is in the order at " +
                                  format_cents(existing->price) + ", not " + format_cents(c.price));
              if (existing->quantity + c.quantity > kMaxLineQuantity)
                return reject(RejectionCode::QuantityTooLarge,
                              "line quantity would exceed " + std::to_string(kMaxLineQuantity));
            } else if (state.items.size() >= limits.max_lines) {
              return reject(RejectionCode::TooManyLines, "an order holds at most " +
                                                             std::to_string(limits.max_lines) +
                                                             " distinct products");
            }
            // Both terms are bounded (total <= kMaxOrderTotalCents, quantity * price <= 10^14):
            // the sum cannot overflow.
            const auto total = checked_total_cents(state);
            if (!total || *total + c.quantity * c.price > kMaxOrderTotalCents)
              return reject(RejectionCode::TotalTooLarge,
                            "the order total would exceed " + format_cents(kMaxOrderTotalCents));
            return std::vector<Event>{OrderItemAdded{c.product_id, c.quantity, c.price}};
          },
          [&](const RemoveItem& c) -> Decision {
            if (state.status != Status::Draft)
              return reject(RejectionCode::NotDraft, status_detail(state, "Draft"));
            if (!find_item(state, c.product_id))
              return reject(RejectionCode::ItemNotInOrder,
                            "product " + c.product_id + " is not in the order");
            return std::vector<Event>{OrderItemRemoved{c.product_id}};
          },
          [&](const ConfirmOrder&) -> Decision {
            if (state.status != Status::Draft)
              return reject(RejectionCode::NotDraft, status_detail(state, "Draft"));
            if (state.items.empty())
              return reject(RejectionCode::NoItems, "an order needs at least one item to confirm");
            return std::vector<Event>{OrderConfirmed{}};
          },
          [&](const ShipOrder& c) -> Decision {
            if (state.status != Status::Confirmed)
              return reject(RejectionCode::NotConfirmed, status_detail(state, "Confirmed"));
            return std::vector<Event>{OrderShipped{c.tracking_number}};
          },
          [&](const DeliverOrder&) -> Decision {
            if (state.status != Status::Shipped)
              return reject(RejectionCode::NotShipped, status_detail(state, "Shipped"));
            return std::vector<Event>{OrderDelivered{}};
          },
      },
      command);
}

OrderState evolve(OrderState state, const Event& event) {
  std::visit(
      Overloaded{
          [&](const OrderCreated& e) {
            state.order_id = e.order_id;
            state.customer_id = e.customer_id;
            state.status = Status::Draft;
          },
          [&](const OrderItemAdded& e) {
            auto it = std::find_if(state.items.begin(), state.items.end(),
                                   [&](const Item& i) { return i.product_id == e.product_id; });
            if (it == state.items.end()) {
              state.items.push_back(Item{e.product_id, e.quantity, e.price});
            } else {
              it->quantity += e.quantity;
            }
          },
          [&](const OrderItemRemoved& e) {
            std::erase_if(state.items, [&](const Item& i) { return i.product_id == e.product_id; });
          },
          [&](const OrderConfirmed&) { state.status = Status::Confirmed; },
          [&](const OrderShipped& e) {
            state.status = Status::Shipped;
            state.tracking_number = e.tracking_number;
          },
          [&](const OrderDelivered&) { state.status = Status::Delivered; },
      },
      event);
  ++state.version;
  return state;
}

}  // namespace orders::domain
