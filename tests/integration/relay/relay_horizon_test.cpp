// relay_horizon() (sql/V014): which running transactions hold the relay's sequencing back.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "relay_support.hpp"

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

// Any other running transaction with an xid (here: no partition lock) still holds it.
TEST(RelayHorizon, OtherRunningTransactionsStillHoldTheHorizon) {
  auto url = migrated_database("relay_horizon_other");
  pqxx::connection other(url), writer(url), relay(url);
  {
    // Holding a lock of another class, or a partition lock with the wrong key form, is no pass.
    pqxx::nontransaction n(other);
    n.exec_params("SELECT pg_advisory_lock($1::bigint)", static_cast<std::int64_t>(kPartitionLockClass));
  }
  pqxx::work t(other);
  t.exec("SELECT pg_current_xact_id()");
  append_tx(writer, {"o1"}, 0us);
  EXPECT_EQ(sequence(relay), 0);
  t.commit();
  EXPECT_EQ(sequence(relay), 1);
}

// The caller's own uncommitted outbox rows are never numbered by its own call.
TEST(RelayHorizon, OwnUncommittedRowsAreNotFinal) {
  auto url = migrated_database("relay_horizon_own");
  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec("INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
          "VALUES (gen_random_uuid(), 'o1', 1, 'OrderCreated', 1, '{}')");
  tx.exec("INSERT INTO outbox (position) SELECT max(position) FROM events");
  EXPECT_EQ(tx.exec("SELECT sequenced FROM relay_sequence(1000)")[0][0].as<std::int64_t>(), 0);
  tx.abort();
}

}  // namespace
}  // namespace orders::relay_test
