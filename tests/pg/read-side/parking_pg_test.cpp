// Poison events parked per order, straight against Postgres (no read-side process): a failing
// batch is split, its poison event parked, the order's later events held (never applied out of
// order) while the batch's other orders are applied; `unpark` applies the parked events once, and
// a projector that still thinks the order parked folds its next event after all.
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "common/pg/migrations.hpp"
#include "read-side/parking/unpark.hpp"
#include "read-side/projector/batch_apply.hpp"
#include "read-side/projector/parked_store.hpp"
#include "read-side/projector/poison.hpp"
#include "read-side/projector/view_store.hpp"
#include "tests/support/read_side_support.hpp"
#include "tests/support/services.hpp"

namespace orders::testing::read_side {
namespace {

namespace rs = orders::read_side;

class ParkingPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = shared_pg().create_database("parking_pg");
    conn_ = std::make_unique<pqxx::connection>(db_);
    pg::apply_migrations(*conn_);
    rs::prepare_projector_statements(*conn_);
    rs::prepare_parked_statements(*conn_);
    feeder_ = std::make_unique<EventFeeder>(db_, nats_.url());
  }

  codec::RecordedEvent append(const std::string& order_id, const domain::Event& e) {
    return feeder_->append(order_id, e, false);
  }

  std::string q1(const std::string& sql) {
    pqxx::nontransaction n(*conn_);
    auto r = n.exec(sql);
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
  }

  NatsServer nats_;
  std::string db_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<EventFeeder> feeder_;
};

TEST_F(ParkingPgTest, APoisonEventIsParkedItsOrderHeldTheOthersAppliedAndUnparkAppliesItOnce) {
  rs::ViewCache cache;
  rs::ParkedOrders parked;
  auto s1 = append("sick", domain::OrderCreated{"sick", "c-1"});
  auto s2 = append("sick", domain::OrderItemAdded{"p-1", 2, 1000});
  auto h1 = append("well", domain::OrderCreated{"well", "c-2"});
  auto bad = append("sick", domain::OrderItemAdded{"p-2", 1, 1500});
  q1("UPDATE events SET schema_version = 1, data = '{\"product_id\":\"p-2\",\"quantity\":1,"
     "\"price\":\"15.00\"}' WHERE event_id = '" +
     bad.event_id + "'");
  bad.schema_version = 1;
  bad.data = {{"product_id", "p-2"}, {"quantity", 1}, {"price", "15.00"}};
  auto s4 = append("sick", domain::OrderConfirmed{});
  auto h2 = append("well", domain::OrderItemAdded{"p-1", 1, 1000});
  const std::vector<codec::RecordedEvent> batch = {s1, s2, h1, bad, s4, h2};

  EXPECT_THROW(rs::apply_group(*conn_, {{0, &batch}}, &cache, &parked), rs::ApplyError);
  const auto found = rs::park_poison(*conn_, 0, batch, &cache, parked, 3);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].order_id, "sick");
  EXPECT_EQ(found[0].version, 3);
  EXPECT_EQ(found[0].attempts, 3);
  EXPECT_NE(found[0].error.find("does not decode"), std::string::npos) << found[0].error;
  // The whole batch again: the parked order's later events are held, the rest is applied.
  auto stats = rs::apply_group(*conn_, {{0, &batch}}, &cache, &parked);
  EXPECT_EQ(stats[0].parked, 2);  // versions 3 (parked already) and 4; not 1-2 (applied)
  EXPECT_EQ(q1("SELECT version FROM orders WHERE order_id = 'sick'"), "2");
  EXPECT_EQ(q1("SELECT version FROM orders WHERE order_id = 'well'"), "2");
  EXPECT_EQ(q1("SELECT string_agg(version || ':' || attempts, ',' ORDER BY global_position) "
               "FROM parked_events WHERE order_id = 'sick'"),
            "3:3,4:0");
  EXPECT_EQ(q1("SELECT max(last_global_position) FROM projection_checkpoints"),
            std::to_string(*h2.global_position));

  // Unpark before the fix: still failing, nothing changes but the attempts.
  auto early = rs::parking::unpark_order(db_, "sick");
  EXPECT_EQ(early.kind, rs::parking::UnparkOutcome::Kind::StillFailing);
  EXPECT_EQ(q1("SELECT max(attempts) FROM parked_events"), "4");
  // The fix (what an upcaster would read), then unpark: applied once.
  q1("UPDATE events SET data = '{\"product_id\":\"p-2\",\"quantity\":1,\"price\":15.0}' "
     "WHERE event_id = '" +
     bad.event_id + "'");
  auto done = rs::parking::unpark_order(db_, "sick");
  ASSERT_EQ(done.kind, rs::parking::UnparkOutcome::Kind::Applied) << done.error;
  EXPECT_EQ(done.applied, 2);
  EXPECT_EQ(done.version, 4);
  EXPECT_EQ(rs::parking::unpark_order(db_, "sick").kind,
            rs::parking::UnparkOutcome::Kind::NotParked);
  EXPECT_EQ(q1("SELECT count(*) FROM parked_events"), "0");

  // The applier still holds "sick" as parked: its next event is found unparked and applied.
  auto s5 = append("sick", domain::OrderShipped{"TRK"});
  const std::vector<codec::RecordedEvent> next = {s4, s5};  // s4 redelivered: a duplicate
  stats = rs::apply_group(*conn_, {{0, &next}}, &cache, &parked);
  EXPECT_EQ(stats[0].parked, 0);
  EXPECT_EQ(stats[0].by_projection["orders"].applied, 1);
  EXPECT_EQ(parked.count("sick"), 0u);
  EXPECT_EQ(q1("SELECT version || ' ' || total_cents || ' ' || item_count FROM orders "
               "WHERE order_id = 'sick'"),
            "5 3500 2");
  EXPECT_EQ(q1("SELECT count(*) FROM parked_events"), "0");
  auto c = check_read_model(db_);
  EXPECT_TRUE(c.equal()) << c.differences;
  EXPECT_EQ(c.applied_orders, c.events);
  EXPECT_EQ(c.applied_customers, c.events);
}

}  // namespace
}  // namespace orders::testing::read_side
