// No transaction holds the relay's sequencing back: relay_sequence() numbers every committed row in
// position order, whatever other transactions are open (docs/design.md, the relay).
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/relay_support.hpp"

namespace orders::relay_test {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitionLockClass = 0x52534450;  // read-side/projector/context.hpp

std::int64_t sequence(pqxx::connection& c) {
  pqxx::work tx(c);
  auto n = tx.exec("SELECT sequenced FROM relay_sequence(1000)")[0][0].as<std::int64_t>();
  tx.commit();
  return n;
}

// A read-side partition worker's apply transaction (session holds a partition lock) never writes
// the outbox: a write committed after it took its xid is numbered without waiting for it.
TEST(RelayHorizon, ProjectorApplyTransactionDoesNotHoldTheHorizon) {
  auto url = migrated_database("relay_horizon_projector");
  pqxx::connection projector(url), writer(url), relay(url);
  {
    pqxx::nontransaction n(projector);
    n.exec_params("SELECT pg_advisory_lock($1::int, 3)", kPartitionLockClass);
  }
  pqxx::work apply(projector);
  apply.exec("SELECT pg_current_xact_id()");  // holds an xid, like an upsert would
  append_tx(writer, {"o1"}, 0us);
  EXPECT_EQ(sequence(relay), 1);
  apply.commit();
}

// Any other running transaction with an older xid (a migration, psql, another writer) does not
// hold back rows committed after it took its xid either; its own rows follow when it commits.
TEST(RelayHorizon, OtherRunningTransactionsDoNotHoldCommittedRows) {
  auto url = migrated_database("relay_horizon_other");
  pqxx::connection other(url), writer(url), relay(url);
  pqxx::work t(other);
  t.exec("SELECT pg_current_xact_id()");
  append_tx(writer, {"o1"}, 0us);
  EXPECT_EQ(sequence(relay), 1);
  t.exec(
      "INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
      "VALUES (gen_random_uuid(), 'o2', 1, 'OrderCreated', 1, '{}')");
  t.exec("INSERT INTO outbox (position) SELECT max(position) FROM events WHERE stream_id = 'o2'");
  append_tx(writer, {"o1"}, 0us);
  EXPECT_EQ(sequence(relay), 1);  // o1 v2, not the running o2
  t.commit();
  EXPECT_EQ(sequence(relay), 1);  // o2
  EXPECT_EQ(sequence(relay), 0);
}

// Rows numbered inside the transaction that wrote them (never the relay's case) are numbered with
// it: a rollback takes the numbering back too, and nothing is left in global_log.
TEST(RelayHorizon, OwnUncommittedRowsAreNumberedOnlyWithTheirTransaction) {
  auto url = migrated_database("relay_horizon_own");
  pqxx::connection c(url), relay(url);
  {
    pqxx::work tx(c);
    tx.exec(
        "INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
        "VALUES (gen_random_uuid(), 'o1', 1, 'OrderCreated', 1, '{}')");
    tx.exec("INSERT INTO outbox (position) SELECT max(position) FROM events");
    EXPECT_EQ(sequence(relay), 0);  // not visible to anyone else
    EXPECT_EQ(tx.exec("SELECT sequenced FROM relay_sequence(1000)")[0][0].as<std::int64_t>(), 1);
    tx.abort();
  }
  pqxx::nontransaction n(relay);
  EXPECT_EQ(n.exec("SELECT count(*) FROM global_log")[0][0].as<std::int64_t>(), 0);
  EXPECT_EQ(n.exec("SELECT last_sequenced FROM relay_state")[0][0].as<std::int64_t>(), 0);
  EXPECT_EQ(n.exec("SELECT count(*) FROM outbox")[0][0].as<std::int64_t>(), 0);
}

}  // namespace
}  // namespace orders::relay_test
