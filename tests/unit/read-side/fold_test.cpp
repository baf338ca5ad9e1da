// The read model fold: given recorded events, then the view (no I/O).
#include <gtest/gtest.h>

#include "common/codec/event_codec.hpp"
#include "read-side/view/order_view.hpp"

namespace orders::read_side {
namespace {

using domain::Status;

struct Stream {
  std::string id;
  std::int64_t version = 0;
  std::int64_t global = 100;
  std::int64_t t = 1'700'000'000'000'000;

  codec::RecordedEvent next(const domain::Event& e) {
    codec::RecordedEvent r;
    r.event_id = id + "-e" + std::to_string(version + 1);
    r.stream_id = id;
    r.version = ++version;
    r.position = global;
    r.global_position = ++global;
    r.type = std::string(domain::event_type(e));
    r.schema_version = codec::current_schema_version(r.type);
    r.recorded_at_us = (t += 1'000'123);
    r.data = codec::encode_event_data(e);
    r.metadata = nlohmann::json::object();
    return r;
  }
};

std::vector<codec::RecordedEvent> seed(Stream& s) {
  return {s.next(domain::OrderCreated{s.id, "customer-1"}),
          s.next(domain::OrderItemAdded{"product-1", 2, 1000}),
          s.next(domain::OrderItemAdded{"product-2", 1, 1500}), s.next(domain::OrderConfirmed{}),
          s.next(domain::OrderShipped{"TRK123456"})};
}

FoldOutcome apply(OrderView& v, const codec::RecordedEvent& e) {
  auto r = fold_event(v, e);
  EXPECT_TRUE(std::holds_alternative<FoldOutcome>(r));
  return std::get<FoldOutcome>(r);
}

TEST(ReadModelFold, SeedScenarioIsShippedWithTotal3500AtVersion5) {
  Stream s{"order-1"};
  auto events = seed(s);
  OrderView v;
  for (const auto& e : events) EXPECT_EQ(apply(v, e), FoldOutcome::Applied);
  EXPECT_EQ(v.state.status, Status::Shipped);
  EXPECT_EQ(domain::total_cents(v.state), 3500);
  EXPECT_EQ(v.state.items.size(), 2u);
  EXPECT_EQ(v.state.version, 5);
  EXPECT_EQ(v.state.tracking_number, "TRK123456");
  EXPECT_EQ(v.created_at_us, events[0].recorded_at_us);
  EXPECT_EQ(v.confirmed_at_us, events[3].recorded_at_us);
  EXPECT_EQ(v.shipped_at_us, events[4].recorded_at_us);
  EXPECT_FALSE(v.delivered_at_us.has_value());
  EXPECT_EQ(v.last_global_position, *events[4].global_position);
}

TEST(ReadModelFold, DuplicateIsSkippedAndLeavesTheViewUnchanged) {
  Stream s{"order-1"};
  auto events = seed(s);
  OrderView v;
  for (const auto& e : events) apply(v, e);
  const OrderView before = v;
  EXPECT_EQ(apply(v, events[1]), FoldOutcome::Duplicate);
  EXPECT_EQ(apply(v, events[4]), FoldOutcome::Duplicate);
  EXPECT_EQ(v, before);
}

TEST(ReadModelFold, GapIsReportedNotApplied) {
  Stream s{"order-1"};
  auto events = seed(s);
  OrderView v;
  apply(v, events[0]);
  const OrderView before = v;
  EXPECT_EQ(apply(v, events[2]), FoldOutcome::Gap);
  EXPECT_EQ(v, before);
  EXPECT_EQ(apply(v, events[1]), FoldOutcome::Applied);
  EXPECT_EQ(apply(v, events[2]), FoldOutcome::Applied);
}

TEST(ReadModelFold, RemovedItemLeavesTheOrderAndDeliveredSetsItsTime) {
  Stream s{"order-2"};
  OrderView v;
  apply(v, s.next(domain::OrderCreated{"order-2", "c"}));
  apply(v, s.next(domain::OrderItemAdded{"a", 1, 100}));
  apply(v, s.next(domain::OrderItemAdded{"b", 3, 250}));
  apply(v, s.next(domain::OrderItemAdded{"a", 2, 100}));
  apply(v, s.next(domain::OrderItemRemoved{"b"}));
  ASSERT_EQ(v.state.items.size(), 1u);
  EXPECT_EQ(v.state.items[0].quantity, 3);
  apply(v, s.next(domain::OrderConfirmed{}));
  apply(v, s.next(domain::OrderShipped{"T1"}));
  auto delivered = s.next(domain::OrderDelivered{});
  apply(v, delivered);
  EXPECT_EQ(v.state.status, Status::Delivered);
  EXPECT_EQ(v.delivered_at_us, delivered.recorded_at_us);
}

TEST(ReadModelFold, LegacyItemAddedV1WithFloatDollarsIsUpcast) {
  Stream s{"order-3"};
  OrderView v;
  apply(v, s.next(domain::OrderCreated{"order-3", "c"}));
  codec::RecordedEvent legacy = s.next(domain::OrderItemAdded{"p", 1, 0});
  legacy.schema_version = 1;
  legacy.data = {{"product_id", "p"}, {"quantity", 3}, {"price", 10.1}};
  EXPECT_EQ(apply(v, legacy), FoldOutcome::Applied);
  ASSERT_EQ(v.state.items.size(), 1u);
  EXPECT_EQ(v.state.items[0].price, 1010);
}

TEST(ReadModelFold, UndecodableEventIsAnErrorAndChangesNothing) {
  Stream s{"order-4"};
  OrderView v;
  apply(v, s.next(domain::OrderCreated{"order-4", "c"}));
  auto bad = s.next(domain::OrderConfirmed{});
  bad.type = "OrderTeleported";
  const OrderView before = v;
  auto r = fold_event(v, bad);
  EXPECT_TRUE(std::holds_alternative<FoldError>(r));
  EXPECT_EQ(v, before);
}

TEST(ReadModelFold, StreamNotStartingWithCreatedIsAnError) {
  Stream s{"order-5"};
  s.next(domain::OrderCreated{"order-5", "c"});  // version 1 never delivered
  OrderView v;
  v.state.version = 0;
  auto e2 = s.next(domain::OrderConfirmed{});
  e2.version = 1;  // pretend it is the first
  EXPECT_TRUE(std::holds_alternative<FoldError>(fold_event(v, e2)));
}

TEST(ReadModelFold, FoldAllBuildsOneViewPerOrderAndSkipsDuplicates) {
  Stream a{"a"}, b{"b"};
  std::vector<codec::RecordedEvent> all;
  auto ea = seed(a);
  auto eb = std::vector<codec::RecordedEvent>{b.next(domain::OrderCreated{"b", "c2"})};
  for (std::size_t i = 0; i < ea.size(); ++i) {
    all.push_back(ea[i]);
    if (i == 2) all.push_back(ea[1]);  // redelivery
  }
  all.push_back(eb[0]);
  auto r = fold_all(all);
  ASSERT_TRUE((std::holds_alternative<std::map<std::string, OrderView>>(r)));
  const auto& views = std::get<0>(r);
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views.at("a").state.version, 5);
  EXPECT_EQ(views.at("b").state.status, Status::Draft);
}

TEST(ReadModelFold, FoldAllRejectsAGap) {
  Stream a{"a"};
  auto ea = seed(a);
  ea.erase(ea.begin() + 2);
  EXPECT_TRUE(std::holds_alternative<FoldError>(fold_all(ea)));
}

TEST(ReadModelRecords, OrdersRecordHasTheColumnsOfTheTable) {
  Stream s{"order-1"};
  OrderView v;
  for (const auto& e : seed(s)) apply(v, e);
  auto r = orders_record(v);
  EXPECT_EQ(r["status"], "Shipped");
  EXPECT_EQ(r["total_cents"], 3500);
  EXPECT_EQ(r["item_count"], 2);
  EXPECT_EQ(r["tracking_number"], "TRK123456");
  EXPECT_TRUE(r["delivered_at_us"].is_null());
  EXPECT_EQ(r["items"][0]["price_cents"], 1000);
  OrderView back = v;
  ASSERT_TRUE(set_lines_from_json(back, r["items"]));
  EXPECT_EQ(back.state.items, v.state.items);
  EXPECT_EQ(back, v);  // the line keys too
  auto c = customer_orders_record(v);
  EXPECT_EQ(c["customer_id"], "customer-1");
  EXPECT_EQ(c["version"], 5);
}

// The line keys: a line sorts by the version that created it; removing a line and adding it again
// moves it to the end; a write after a stored version carries only what changed since.
TEST(ReadModelFold, LinesKeepTheirCreationVersionAndWhatChanged) {
  Stream s{"order-1"};
  OrderView v;
  apply(v, s.next(domain::OrderCreated{"order-1", "c"}));  // 1
  apply(v, s.next(domain::OrderItemAdded{"a", 1, 100}));   // 2
  apply(v, s.next(domain::OrderItemAdded{"b", 1, 200}));   // 3
  apply(v, s.next(domain::OrderItemAdded{"a", 2, 100}));   // 4: a changes, keeps line 2
  ASSERT_EQ(v.lines.size(), 2u);
  EXPECT_EQ(v.lines[0].created, 2);
  EXPECT_EQ(v.lines[0].changed, 4);
  EXPECT_EQ(v.lines[1].created, 3);
  EXPECT_EQ(v.lines[1].changed, 3);
  apply(v, s.next(domain::OrderItemRemoved{"a"}));  // 5
  ASSERT_EQ(v.lines.size(), 1u);
  EXPECT_EQ(v.state.items[0].product_id, "b");
  ASSERT_EQ(v.removed.size(), 1u);
  EXPECT_EQ(v.removed[0].product_id, "a");
  EXPECT_EQ(v.removed[0].version, 5);
  apply(v, s.next(domain::OrderItemAdded{"a", 1, 100}));  // 6: back, at the end
  ASSERT_EQ(v.state.items.size(), 2u);
  EXPECT_EQ(v.state.items[1].product_id, "a");
  EXPECT_EQ(v.lines[1].created, 6);
  auto r = orders_record(v);
  EXPECT_EQ(r["items"][1]["line"], 6);
}

TEST(ReadModelRecords, DraftHasNullTrackingNumber) {
  Stream s{"order-1"};
  OrderView v;
  apply(v, s.next(domain::OrderCreated{"order-1", "c"}));
  EXPECT_TRUE(orders_record(v)["tracking_number"].is_null());
  EXPECT_FALSE(set_lines_from_json(v, nlohmann::json::object()));
  EXPECT_FALSE(set_lines_from_json(v, nlohmann::json::parse(R"([{"product_id":"x"}])")));
}

}  // namespace
}  // namespace orders::read_side
