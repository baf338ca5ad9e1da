// apply_batch / apply_group against a real Postgres, with the applier's view cache: the cache only
// saves loads, it never decides what is written. A row changed behind the cache fails the batch
// (nothing written) and the retry reloads; a table swapped in by rebuild-projection is reloaded.
#include "read-side/projector/batch_apply.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "common/pg/migrations.hpp"
#include "read-side/projector/view_store.hpp"
#include "tests/support/read_side_support.hpp"
#include "tests/support/services.hpp"

namespace orders::testing::read_side {
namespace {

namespace rs = orders::read_side;

class BatchApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = shared_pg().create_database("batch_apply");
    conn_ = std::make_unique<pqxx::connection>(db_);
    pg::apply_migrations(*conn_);
    rs::prepare_projector_statements(*conn_);
    feeder_ = std::make_unique<EventFeeder>(db_, nats_.url());
  }

  // The next version of order_id, in the store and sequenced (not published).
  codec::RecordedEvent append(const std::string& order_id, const domain::Event& e) {
    return feeder_->append(order_id, e, false);
  }

  std::pair<std::int64_t, std::string> stored(const std::string& table, const std::string& id) {
    pqxx::read_transaction tx(*conn_);
    auto r = tx.exec_params1(
        "SELECT version, (SELECT coalesce(string_agg(product_id, ',' ORDER BY line), '') FROM " +
            rs::lines_table(table) + " l WHERE l.order_id = t.order_id) FROM " + table +
            " t WHERE order_id = $1",
        id);
    return {r[0].as<std::int64_t>(), r[1].as<std::string>()};
  }

  void expect_model_equal() {
    auto c = check_read_model(db_);
    EXPECT_TRUE(c.equal()) << c.differences;
    EXPECT_EQ(c.applied_orders, c.events);
    EXPECT_EQ(c.applied_customers, c.events);
  }

  NatsServer nats_;
  std::string db_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<EventFeeder> feeder_;
};

TEST_F(BatchApplyTest, CachedViewsAreNotLoadedAgainAndTheResultIsTheSame) {
  rs::ViewCache cache;
  auto e1 = append("o-1", domain::OrderCreated{"o-1", "c-1"});
  auto e2 = append("o-2", domain::OrderCreated{"o-2", "c-1"});
  rs::apply_batch(*conn_, 0, {e1, e2}, &cache);
  EXPECT_EQ(cache.size(0), 2u);
  EXPECT_EQ(cache.size(1), 2u);

  auto e3 = append("o-1", domain::OrderItemAdded{"p-1", 2, 1000});
  auto e4 = append("o-1", domain::OrderItemAdded{"p-2", 1, 1500});
  auto s = rs::apply_batch(*conn_, 0, {e3, e4, e3}, &cache);  // e3 again: a duplicate
  EXPECT_EQ(s.by_projection["orders"].applied, 2);
  EXPECT_EQ(s.by_projection["orders"].duplicates, 1);
  EXPECT_EQ(stored("orders", "o-1").first, 3);
  EXPECT_EQ(stored("customer_orders", "o-1").first, 3);
  expect_model_equal();
}

TEST_F(BatchApplyTest, ARowChangedBehindTheCacheFailsTheBatchAndTheRetryReloadsIt) {
  rs::ViewCache cache;
  auto e1 = append("o-1", domain::OrderCreated{"o-1", "c-1"});
  rs::apply_batch(*conn_, 0, {e1}, &cache);
  // Another writer (here: an apply without this cache) moves the row to version 2.
  auto e2 = append("o-1", domain::OrderItemAdded{"p-1", 2, 1000});
  rs::apply_batch(*conn_, 0, {e2});
  auto e3 = append("o-1", domain::OrderItemAdded{"p-2", 1, 1500});

  // The cache still says version 1: the write's guard fails, nothing is committed.
  EXPECT_THROW(rs::apply_batch(*conn_, 0, {e3}, &cache), rs::StaleReadModel);
  EXPECT_EQ(stored("orders", "o-1").first, 2);
  EXPECT_EQ(cache.size(0), 0u);

  // The retry loads the stored row and applies e3 once.
  auto s = rs::apply_batch(*conn_, 0, {e3}, &cache);
  EXPECT_EQ(s.by_projection["orders"].applied, 1);
  EXPECT_EQ(s.by_projection["orders"].gap_filled, 0);
  EXPECT_EQ(stored("orders", "o-1").first, 3);
  expect_model_equal();
}

TEST_F(BatchApplyTest, ATableSwappedInSinceTheLastBatchIsReadAgain) {
  rs::ViewCache cache;
  auto e1 = append("o-1", domain::OrderCreated{"o-1", "c-1"});
  auto e2 = append("o-1", domain::OrderItemAdded{"p-1", 2, 1000});
  rs::apply_batch(*conn_, 0, {e1, e2}, &cache);
  {
    // As rebuild-projection's swap does: another lines table (other oid) under the same name,
    // its order at the same version but with other lines, so a stale cache would show.
    pqxx::work tx(*conn_);
    tx.exec("CREATE TABLE order_items_new (LIKE order_items INCLUDING ALL)");
    tx.exec("INSERT INTO order_items_new VALUES ('o-1', 'p-9', 2, 9, 1)");
    tx.exec("DROP TABLE order_items");
    tx.exec("ALTER TABLE order_items_new RENAME TO order_items");
    tx.commit();
  }
  // The prepared statements are left as they are: Postgres re-plans them on the new table.
  auto e3 = append("o-1", domain::OrderItemAdded{"p-2", 1, 1500});
  rs::apply_batch(*conn_, 0, {e3}, &cache);
  const auto [version, items] = stored("orders", "o-1");
  EXPECT_EQ(version, 3);
  EXPECT_NE(items.find("p-9"), std::string::npos) << items;  // folded onto the swapped-in row
  EXPECT_NE(items.find("p-2"), std::string::npos) << items;
}

TEST_F(BatchApplyTest, ARedeliveredCreationIsWrittenOnceAndSkippedAsADuplicate) {
  // A creation is written without a read; a redelivery to a fresh cache (another worker, a
  // restart) must find the stored row (the blind insert fails, the batch is redone with reads).
  auto e1 = append("o-1", domain::OrderCreated{"o-1", "c-1"});
  auto e2 = append("o-1", domain::OrderItemAdded{"p-1", 2, 1000});
  {
    rs::ViewCache cache;
    rs::apply_batch(*conn_, 0, {e1, e2}, &cache);
  }
  auto e3 = append("o-1", domain::OrderItemAdded{"p-2", 1, 1500});
  auto e4 = append("o-2", domain::OrderCreated{"o-2", "c-2"});
  rs::ViewCache fresh;
  auto s = rs::apply_batch(*conn_, 0, {e1, e2, e3, e4}, &fresh);
  EXPECT_EQ(s.by_projection["orders"].duplicates, 2);
  EXPECT_EQ(s.by_projection["orders"].applied, 2);
  EXPECT_EQ(s.by_projection["customers"].duplicates, 2);
  EXPECT_EQ(stored("orders", "o-1").first, 3);
  EXPECT_EQ(stored("customer_orders", "o-1").first, 3);
  EXPECT_EQ(stored("orders", "o-2").first, 1);
  EXPECT_EQ(fresh.size(0), 2u);
  // Without a cache too.
  auto again = rs::apply_batch(*conn_, 0, {e1, e4});
  EXPECT_EQ(again.by_projection["orders"].duplicates, 2);
  EXPECT_EQ(again.by_projection["orders"].applied, 0);
  expect_model_equal();
}

TEST_F(BatchApplyTest, TheCheckpointAdvancesWithTheRowsInOneCommittedWrite) {
  rs::ViewCache cache;
  auto e1 = append("o-1", domain::OrderCreated{"o-1", "c-1"});
  rs::apply_batch(*conn_, 3, {e1}, &cache);
  // The connection is left outside any transaction (each batch's write is its own): a batch
  // committed is visible to another connection at once.
  pqxx::connection other(db_);
  EXPECT_EQ(pqxx::read_transaction(other)
                .exec_params1("SELECT version FROM orders WHERE order_id = $1", "o-1")[0]
                .as<int>(),
            1);
  pqxx::read_transaction tx(*conn_);
  auto r = tx.exec_params(
      "SELECT projection, last_global_position, events_applied FROM projection_checkpoints "
      "WHERE partition = 3 ORDER BY projection");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0][0].as<std::string>(), "customers");
  EXPECT_EQ(r[0][1].as<std::int64_t>(), e1.global_position.value_or(-1));
  EXPECT_EQ(r[1][2].as<std::int64_t>(), 1);
}

// Two ids whose orders live in different partitions.
std::pair<std::string, std::string> ids_in_two_partitions() {
  const std::string a = "g-a";
  for (int i = 0;; ++i) {
    std::string b = "g-b" + std::to_string(i);
    if (codec::partition_of(b) != codec::partition_of(a)) return {a, b};
  }
}

std::int64_t checkpoint(pqxx::connection& c, const std::string& projection, int partition) {
  pqxx::read_transaction tx(c);
  auto r = tx.exec_params(
      "SELECT last_global_position FROM projection_checkpoints WHERE projection = $1 AND partition "
      "= $2",
      projection, partition);
  return r.empty() ? -1 : r[0][0].as<std::int64_t>();
}

TEST_F(BatchApplyTest, AGroupOfPartitionsIsOneWriteAdvancingEachPartitionsCheckpoint) {
  const auto [a, b] = ids_in_two_partitions();
  const int pa = codec::partition_of(a), pb = codec::partition_of(b);
  rs::ViewCache cache;
  auto a1 = append(a, domain::OrderCreated{a, "c-1"});
  auto b1 = append(b, domain::OrderCreated{b, "c-2"});
  auto a2 = append(a, domain::OrderItemAdded{"p-1", 2, 150});
  auto b2 = append(b, domain::OrderItemAdded{"p-2", 1, 99});
  const std::vector<codec::RecordedEvent> batch_a{a1, a2}, batch_b{b1, b2};
  auto stats = rs::apply_group(*conn_, {{pa, &batch_a}, {pb, &batch_b}}, &cache);
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].by_projection["orders"].applied, 2);
  EXPECT_EQ(stats[1].by_projection["customers"].applied, 2);
  EXPECT_EQ(stats[0].last_global_position, a2.global_position.value_or(-1));
  EXPECT_EQ(stats[1].last_global_position, b2.global_position.value_or(-1));
  for (const char* projection : {"orders", "customers"}) {
    EXPECT_EQ(checkpoint(*conn_, projection, pa), a2.global_position.value_or(-1)) << projection;
    EXPECT_EQ(checkpoint(*conn_, projection, pb), b2.global_position.value_or(-1)) << projection;
  }
  EXPECT_EQ(stored("orders", a).first, 2);
  EXPECT_EQ(stored("customer_orders", b).first, 2);

  // Cached now: the next group of both partitions writes on the cached views.
  auto a3 = append(a, domain::OrderConfirmed{});
  auto b3 = append(b, domain::OrderConfirmed{});
  const std::vector<codec::RecordedEvent> next_a{a3}, next_b{b3};
  rs::apply_group(*conn_, {{pb, &next_b}, {pa, &next_a}}, &cache);
  EXPECT_EQ(stored("orders", a).first, 3);
  EXPECT_EQ(stored("orders", b).first, 3);
  expect_model_equal();
}

TEST_F(BatchApplyTest, APoisonBatchFailsItsWholeGroupAndNothingOfTheGroupIsCommitted) {
  const auto [a, b] = ids_in_two_partitions();
  const int pa = codec::partition_of(a), pb = codec::partition_of(b);
  rs::ViewCache cache;
  auto a1 = append(a, domain::OrderCreated{a, "c-1"});
  auto b1 = append(b, domain::OrderCreated{b, "c-2"});
  // b at version 3 without version 2 anywhere: the gap cannot be filled (a poison batch).
  auto b3 = b1;
  b3.version = 3;
  b3.event_id = "00000000-0000-7000-8000-000000000003";
  b3.global_position = b1.global_position.value_or(0) + 100;
  const std::vector<codec::RecordedEvent> batch_a{a1}, batch_b{b1, b3};
  EXPECT_THROW(rs::apply_group(*conn_, {{pa, &batch_a}, {pb, &batch_b}}, &cache), rs::ApplyError);
  EXPECT_EQ(checkpoint(*conn_, "orders", pa), -1);
  EXPECT_EQ(checkpoint(*conn_, "orders", pb), -1);
  {
    pqxx::read_transaction tx(*conn_);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM orders")[0].as<int>(), 0);
  }
  // Applied alone (as the applier retries a failed group), the good partition commits.
  rs::apply_batch(*conn_, pa, batch_a, &cache);
  EXPECT_EQ(checkpoint(*conn_, "orders", pa), a1.global_position.value_or(-1));
  EXPECT_EQ(stored("orders", a).first, 1);
  EXPECT_THROW(rs::apply_batch(*conn_, pb, batch_b, &cache), rs::ApplyError);
}

}  // namespace
}  // namespace orders::testing::read_side
