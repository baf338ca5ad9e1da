#include <gtest/gtest.h>

#include "tests/unit/domain/decider_spec.hpp"

namespace orders::domain {
namespace {

using spec::Given;

const Event kCreated = OrderCreated{"order-1", "customer-1"};
const Event kAdded1 = OrderItemAdded{"product-1", 2, 1000};
const Event kAdded2 = OrderItemAdded{"product-2", 1, 1500};

TEST(CreateOrder, CreatesWhenAbsent) {
  Given({})
      .When(CreateOrder{"order-1", "customer-1"})
      .Then({OrderCreated{"order-1", "customer-1"}});
}
TEST(CreateOrder, RejectsExisting) {
  Given({kCreated})
      .When(CreateOrder{"order-1", "customer-2"})
      .ThenRejects(RejectionCode::AlreadyExists);
}

TEST(AddItem, AddsToDraft) {
  Given({kCreated})
      .When(AddItem{"product-1", 2, 1000})
      .Then({OrderItemAdded{"product-1", 2, 1000}});
}
TEST(AddItem, UnknownOrderIsNotFound) {
  Given({}).When(AddItem{"product-1", 2, 1000}).ThenRejects(RejectionCode::OrderNotFound);
}
TEST(AddItem, SameProductSamePriceAddsQuantity) {
  auto s = Given({kCreated, kAdded1});
  s.When(AddItem{"product-1", 3, 1000}).Then({OrderItemAdded{"product-1", 3, 1000}});
  const OrderState after = evolve(s.state(), OrderItemAdded{"product-1", 3, 1000});
  ASSERT_EQ(after.items.size(), 1u);
  EXPECT_EQ(after.items[0].quantity, 5);
}
TEST(AddItem, SameProductOtherPriceIsConflict) {
  Given({kCreated, kAdded1})
      .When(AddItem{"product-1", 1, 1001})
      .ThenRejects(RejectionCode::PriceMismatch);
}
TEST(AddItem, LineQuantityCapped) {
  Given({kCreated, OrderItemAdded{"p", kMaxLineQuantity, 1}})
      .When(AddItem{"p", 1, 1})
      .ThenRejects(RejectionCode::QuantityTooLarge);
}
TEST(AddItem, RejectedUnlessDraft) {
  Given({kCreated, kAdded1, OrderConfirmed{}})
      .When(AddItem{"product-2", 1, 1})
      .ThenRejects(RejectionCode::NotDraft);
  Given({kCreated, kAdded1, OrderConfirmed{}, OrderShipped{"T"}})
      .When(AddItem{"product-2", 1, 1})
      .ThenRejects(RejectionCode::NotDraft);
}
TEST(AddItem, StatusCheckedBeforeItemRule) {
  // Confirmed order, same product with another price: the status rule (409 not-draft) wins.
  Given({kCreated, kAdded1, OrderConfirmed{}})
      .When(AddItem{"product-1", 1, 999})
      .ThenRejects(RejectionCode::NotDraft);
}

TEST(RemoveItem, RemovesWholeLine) {
  auto s = Given({kCreated, kAdded1, OrderItemAdded{"product-1", 3, 1000}});
  s.When(RemoveItem{"product-1"}).Then({OrderItemRemoved{"product-1"}});
  EXPECT_TRUE(evolve(s.state(), OrderItemRemoved{"product-1"}).items.empty());
}
TEST(RemoveItem, NotInOrderIsNotFound) {
  Given({kCreated, kAdded1})
      .When(RemoveItem{"product-9"})
      .ThenRejects(RejectionCode::ItemNotInOrder);
}
TEST(RemoveItem, UnknownOrderIsNotFound) {
  Given({}).When(RemoveItem{"product-1"}).ThenRejects(RejectionCode::OrderNotFound);
}
TEST(RemoveItem, RejectedUnlessDraft) {
  Given({kCreated, kAdded1, OrderConfirmed{}})
      .When(RemoveItem{"product-1"})
      .ThenRejects(RejectionCode::NotDraft);
  // status before item: not in order AND not draft -> 409
  Given({kCreated, kAdded1, OrderConfirmed{}})
      .When(RemoveItem{"product-9"})
      .ThenRejects(RejectionCode::NotDraft);
}

TEST(ConfirmOrder, ConfirmsDraftWithItems) {
  Given({kCreated, kAdded1}).When(ConfirmOrder{}).Then({OrderConfirmed{}});
}
TEST(ConfirmOrder, RejectsEmptyOrder) {
  Given({kCreated}).When(ConfirmOrder{}).ThenRejects(RejectionCode::NoItems);
  Given({kCreated, kAdded1, OrderItemRemoved{"product-1"}})
      .When(ConfirmOrder{})
      .ThenRejects(RejectionCode::NoItems);
}
TEST(ConfirmOrder, RejectsTwice) {
  Given({kCreated, kAdded1, OrderConfirmed{}})
      .When(ConfirmOrder{})
      .ThenRejects(RejectionCode::NotDraft);
}
TEST(ConfirmOrder, UnknownOrderIsNotFound) {
  Given({}).When(ConfirmOrder{}).ThenRejects(RejectionCode::OrderNotFound);
}

TEST(ShipOrder, ShipsConfirmed) {
  Given({kCreated, kAdded1, OrderConfirmed{}})
      .When(ShipOrder{"TRK123456"})
      .Then({OrderShipped{"TRK123456"}});
}
TEST(ShipOrder, RejectsDraftAndShipped) {
  Given({kCreated, kAdded1}).When(ShipOrder{"T"}).ThenRejects(RejectionCode::NotConfirmed);
  Given({kCreated, kAdded1, OrderConfirmed{}, OrderShipped{"T"}})
      .When(ShipOrder{"T"})
      .ThenRejects(RejectionCode::NotConfirmed);
  Given({}).When(ShipOrder{"T"}).ThenRejects(RejectionCode::OrderNotFound);
}

TEST(DeliverOrder, DeliversShipped) {
  Given({kCreated, kAdded1, OrderConfirmed{}, OrderShipped{"T"}})
      .When(DeliverOrder{})
      .Then({OrderDelivered{}});
}
TEST(DeliverOrder, RejectsOtherwise) {
  Given({kCreated, kAdded1, OrderConfirmed{}})
      .When(DeliverOrder{})
      .ThenRejects(RejectionCode::NotShipped);
  Given({kCreated, kAdded1, OrderConfirmed{}, OrderShipped{"T"}, OrderDelivered{}})
      .When(DeliverOrder{})
      .ThenRejects(RejectionCode::NotShipped);
  Given({}).When(DeliverOrder{}).ThenRejects(RejectionCode::OrderNotFound);
}

TEST(Evolve, SeedScenario) {
  OrderState s;
  for (const Event& e :
       std::vector<Event>{kCreated, kAdded1, kAdded2, OrderConfirmed{}, OrderShipped{"TRK123456"}})
    s = evolve(std::move(s), e);
  EXPECT_EQ(s.version, 5);
  EXPECT_EQ(s.status, Status::Shipped);
  EXPECT_EQ(total_cents(s), 3500);
  EXPECT_EQ(format_cents(total_cents(s)), "35.00");
  EXPECT_EQ(s.items.size(), 2u);
  EXPECT_EQ(s.tracking_number, "TRK123456");
}

}  // namespace
}  // namespace orders::domain
