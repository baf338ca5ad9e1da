// relay_sequence() (sql/functions/relay_sequence.sql) against a real PostgreSQL: dense numbering of
// committed rows, and one order's events never reordered even when transaction ids disagree with
// commit order.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/relay_support.hpp"

namespace orders::relay_test {
namespace {

using namespace std::chrono_literals;

std::int64_t sequence(pqxx::connection& c, int limit = 1000) {
  pqxx::work tx(c);
  auto n =
      tx.exec_params("SELECT sequenced FROM relay_sequence($1)", limit)[0][0].as<std::int64_t>();
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
  pqxx::work open_tx(b);  // a writer still running, with an older xid than o3's writer
  open_tx.exec(
      "INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
      "VALUES (gen_random_uuid(), 'o2', 1, 'OrderCreated', 1, '{}')");
  open_tx.exec(
      "INSERT INTO outbox (position) SELECT max(position) FROM events WHERE stream_id = 'o2'");
  append_tx(a, {"o3"}, 0us);      // committed while the older writer runs
  EXPECT_EQ(sequence(relay), 2);  // o1 and o3; o2 is not committed (and holds nothing back)
  EXPECT_EQ(sequence(relay), 0);
  open_tx.commit();  // the running writer commits: its row is numbered next
  EXPECT_EQ(sequence(relay), 1);
  EXPECT_EQ(sequence(relay), 0);
  auto order = global_order(relay);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(std::get<0>(order[0]), 1);
  EXPECT_EQ(std::get<1>(order[0]), "o1");
  EXPECT_EQ(std::get<0>(order[1]), 2);
  EXPECT_EQ(std::get<1>(order[1]), "o3");
  EXPECT_EQ(std::get<0>(order[2]), 3);
  EXPECT_EQ(std::get<1>(order[2]), "o2");
  pqxx::nontransaction tx(relay);
  EXPECT_EQ(tx.exec("SELECT last_sequenced FROM relay_state")[0][0].as<std::int64_t>(), 3);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM outbox")[0][0].as<std::int64_t>(), 0);
}

// T1 takes its xid first (appends to x), T0 takes the next xid and stays open, T2 appends y v1
// and commits, then T1 reads y, appends y v2 and commits: T1's xid is older than T2's although
// T1's y v2 follows T2's y v1. (Every committed row is numbered in position order, and y v2's
// position was drawn after y v1 committed.)
TEST(RelaySequence, Bug_EarlyXidWriterDoesNotOvertakeItsStreamPredecessor) {
  for (bool step_between : {false, true}) {
    SCOPED_TRACE(step_between ? "relay steps after T2 commits" : "relay steps after T1 commits");
    auto url = migrated_database(step_between ? "relay_seq_xid_step" : "relay_seq_xid");
    pqxx::connection c1(url), c0(url), c2(url), relay(url);
    pqxx::work t1(c1);
    t1.exec(
        "INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
        "VALUES (gen_random_uuid(), 'x', 1, 'OrderCreated', 1, '{}') RETURNING position");
    t1.exec("INSERT INTO outbox (position) SELECT max(position) FROM events WHERE stream_id = 'x'");
    pqxx::work t0(c0);
    t0.exec("SELECT pg_current_xact_id()");  // takes an xid between T1's and T2's
    append_tx(c2, {"y"}, 0us);               // T2: y v1, committed
    if (step_between) {
      EXPECT_EQ(sequence(relay), 1);  // y v1 (T1 still running)
    }
    auto v =
        t1.exec("SELECT max(version) FROM events WHERE stream_id = 'y'")[0][0].as<std::int64_t>();
    ASSERT_EQ(v, 1);
    t1.exec(
        "INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
        "VALUES (gen_random_uuid(), 'y', 2, 'OrderItemAdded', 1, '{}')");
    t1.exec("INSERT INTO outbox (position) SELECT max(position) FROM events WHERE stream_id = 'y'");
    t1.commit();

    EXPECT_EQ(sequence(relay), step_between ? 2 : 3);  // T0 (running, no rows) holds nothing back
    t0.commit();
    EXPECT_EQ(sequence(relay), 0);
    auto order = global_order(relay);
    ASSERT_EQ(order.size(), 3u);
    std::vector<std::pair<std::string, std::int64_t>> got;
    for (const auto& [gp, stream, version] : order) got.emplace_back(stream, version);
    using Row = std::pair<std::string, std::int64_t>;
    const std::vector<Row> want = step_between ? std::vector<Row>{{"y", 1}, {"x", 1}, {"y", 2}}
                                               : std::vector<Row>{{"x", 1}, {"y", 1}, {"y", 2}};
    EXPECT_EQ(got, want);
  }
}

// A relay_step that finds nothing to number and has no hint to write takes no xid (no row lock,
// no WAL flush at its commit); with rows, or with a hint, it writes.
TEST(RelaySequence, EmptyStepIsReadOnly) {
  auto url = migrated_database("relay_seq_empty");
  pqxx::connection w(url), relay(url);
  auto step_took_xid = [&](std::int64_t mark) {
    pqxx::work tx(relay);
    tx.exec_params("SELECT * FROM relay_step(0, $1, 100, 100)", mark);
    bool xid = !tx.exec("SELECT pg_current_xact_id_if_assigned() IS NULL")[0][0].as<bool>();
    tx.commit();
    return xid;
  };
  EXPECT_FALSE(step_took_xid(0));
  append_tx(w, {"o1"}, 0us);
  EXPECT_TRUE(step_took_xid(0));   // numbers o1
  EXPECT_FALSE(step_took_xid(0));  // nothing left
  EXPECT_TRUE(step_took_xid(1));   // the last_published hint
  pqxx::nontransaction tx(relay);
  EXPECT_EQ(tx.exec("SELECT last_published FROM relay_state")[0][0].as<std::int64_t>(), 1);
  EXPECT_EQ(tx.exec("SELECT last_sequenced FROM relay_state")[0][0].as<std::int64_t>(), 1);
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

// A NOTIFY inside the data transactions would serialize every commit on the notification queue
// lock: wake-ups come from the write-side after commit, never from the database.
TEST(RelaySequence, Bug_OutboxHasNoNotifyTriggerSerializingCommits) {
  auto url = migrated_database("relay_seq_notify");
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  auto r = tx.exec1(
      "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'outbox'::regclass AND NOT tgisinternal");
  EXPECT_EQ(r[0].as<int>(), 0);
}

}  // namespace
}  // namespace orders::relay_test
