// relay_sequence() (sql/V010) against a real PostgreSQL: dense numbering below the xmin horizon,
// and one order's events never reordered even when transaction ids disagree with commit order.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "relay_support.hpp"

namespace orders::relay_test {
namespace {

using namespace std::chrono_literals;

std::int64_t sequence(pqxx::connection& c, int limit = 1000) {
  pqxx::work tx(c);
  auto n = tx.exec_params("SELECT sequenced FROM relay_sequence($1)", limit)[0][0].as<std::int64_t>();
  tx.commit();
  return n;
}

// (global_position, stream_id, version) in global order
std::vector<std::tuple<std::int64_t, std::string, std::int64_t>> global_order(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  std::vector<std::tuple<std::int64_t, std::string, std::int64_t>> out;
  for (const auto& r : tx.exec("SELECT g.global_position, e.stream_id, e.version FROM global_log g "
                               "JOIN events e ON e.position = g.position ORDER BY 1")) {
    out.emplace_back(r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<std::int64_t>());
  }
  return out;
}

TEST(RelaySequence, NumbersCommittedRowsDenselyAndSkipsRunningTransactions) {
  auto url = migrated_database("relay_seq_dense");
  pqxx::connection a(url), b(url), relay(url);
  append_tx(a, {"o1"}, 0us);
  pqxx::work open_tx(b);  // a writer still running, holding the horizon
  open_tx.exec("INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
               "VALUES (gen_random_uuid(), 'o2', 1, 'OrderCreated', 1, '{}')");
  append_tx(a, {"o3"}, 0us);  // committed, but its xid is above the running writer's
  EXPECT_EQ(sequence(relay), 1);  // only o1: o3 waits for the horizon
  open_tx.abort();                // the running writer ends (its row never existed)
  EXPECT_EQ(sequence(relay), 1);  // now o3
  EXPECT_EQ(sequence(relay), 0);
  auto order = global_order(relay);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(std::get<0>(order[0]), 1);
  EXPECT_EQ(std::get<1>(order[0]), "o1");
  EXPECT_EQ(std::get<0>(order[1]), 2);
  EXPECT_EQ(std::get<1>(order[1]), "o3");
  pqxx::nontransaction tx(relay);
  EXPECT_EQ(tx.exec("SELECT last_sequenced FROM relay_state")[0][0].as<std::int64_t>(), 2);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM outbox")[0][0].as<std::int64_t>(), 0);
}

// T1 takes its xid first (appends to x), T0 takes the next xid and stays open, T2 appends y v1
// and commits, then T1 reads y, appends y v2 and commits. T1 is below the horizon, T2 is not:
// y v2 must wait for y v1.
TEST(RelaySequence, Bug_EarlyXidWriterDoesNotOvertakeItsStreamPredecessor) {
  auto url = migrated_database("relay_seq_xid");
  pqxx::connection c1(url), c0(url), c2(url), relay(url);
  pqxx::work t1(c1);
  t1.exec("INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
          "VALUES (gen_random_uuid(), 'x', 1, 'OrderCreated', 1, '{}') RETURNING position");
  t1.exec("INSERT INTO outbox (position) SELECT max(position) FROM events WHERE stream_id = 'x'");
  pqxx::work t0(c0);
  t0.exec("SELECT pg_current_xact_id()");  // takes an xid between T1's and T2's
  append_tx(c2, {"y"}, 0us);                // T2: y v1, committed
  auto v = t1.exec("SELECT max(version) FROM events WHERE stream_id = 'y'")[0][0].as<std::int64_t>();
  ASSERT_EQ(v, 1);
  t1.exec("INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
          "VALUES (gen_random_uuid(), 'y', 2, 'OrderItemAdded', 1, '{}')");
  t1.exec("INSERT INTO outbox (position) SELECT max(position) FROM events WHERE stream_id = 'y'");
  t1.commit();

  EXPECT_EQ(sequence(relay), 1);  // x v1 only; y v2 is held back behind y v1
  t0.commit();
  EXPECT_EQ(sequence(relay), 2);
  auto order = global_order(relay);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(std::get<1>(order[0]), "x");
  EXPECT_EQ(std::get<1>(order[1]), "y");
  EXPECT_EQ(std::get<2>(order[1]), 1);
  EXPECT_EQ(std::get<1>(order[2]), "y");
  EXPECT_EQ(std::get<2>(order[2]), 2);
}

TEST(RelaySequence, LimitAndConcurrentSequencersNeverNumberARowTwice) {
  auto url = migrated_database("relay_seq_limit");
  pqxx::connection w(url), r1(url), r2(url);
  for (int i = 0; i < 50; ++i) append_tx(w, {"s" + std::to_string(i % 7)}, 0us);
  std::int64_t total = 0;
  for (int i = 0; i < 20; ++i) total += sequence(i % 2 ? r1 : r2, 7);
  EXPECT_EQ(total, 50);
  auto order = global_order(w);
  ASSERT_EQ(order.size(), 50u);
  std::map<std::string, std::int64_t> last;
  for (std::size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(std::get<0>(order[i]), static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(std::get<2>(order[i]), last[std::get<1>(order[i])] + 1);
    last[std::get<1>(order[i])] = std::get<2>(order[i]);
  }
}

// Regression: a NOTIFY inside the data transactions (the V010 trigger) serialized every commit on
// the notification queue lock. Wake-ups now come from the write-side after commit (V012).
TEST(RelaySequence, Bug_OutboxHasNoNotifyTriggerSerializingCommits) {
  auto url = migrated_database("relay_seq_notify");
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  auto r = tx.exec1("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'outbox'::regclass AND NOT tgisinternal");
  EXPECT_EQ(r[0].as<int>(), 0);
}

}  // namespace
}  // namespace orders::relay_test
