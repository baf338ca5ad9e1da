// rebuild-projection against a real PostgreSQL (no bus): the rebuild library replays events
// written straight into the event store, swaps shadow tables in, compares, refuses a concurrent
// run, waits for in-flight live apply transactions at cutover, and leaves the live tables
// untouched when it fails.
#include <future>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "read-side/projector/locks.hpp"
#include "read-side/rebuild/rebuild.hpp"
#include "tests/support/event_loader.hpp"
#include "tests/support/services.hpp"

namespace orders::rebuild_test {
namespace {

using read_side::rebuild::AlreadyRunning;
using read_side::rebuild::Progress;
using read_side::rebuild::RebuildError;
using read_side::rebuild::RebuildOptions;
using read_side::rebuild::RebuildResult;

std::string q1(pqxx::connection& c, const std::string& sql) {
  pqxx::nontransaction n(c);
  auto r = n.exec(sql);
  return r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
}

std::string digest(pqxx::connection& c, const std::string& table) {
  return q1(c,
            "SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY order_id)), "
            "'') FROM " +
                table + " t");
}

std::string index_names(pqxx::connection& c, const std::string& table) {
  return q1(c,
            "SELECT string_agg(indexname || ':' || regexp_replace(indexdef, '^.* USING ', ''), ' ' "
            "ORDER BY indexname) FROM pg_indexes WHERE tablename = '" +
                table + "'");
}

RebuildOptions all_projections(bool dry_run = false) {
  RebuildOptions o;
  o.projections = read_side::projections();
  o.dry_run = dry_run;
  o.page_size = 3000;  // several pages
  o.copy_chunk_rows = 700;
  return o;
}

RebuildResult run(const std::string& url, const RebuildOptions& o, std::string* log = nullptr) {
  std::ostringstream out;
  Progress progress(out, false);
  try {
    auto r = read_side::rebuild::rebuild(url, o, progress);
    if (log) *log = out.str();
    return r;
  } catch (...) {
    if (log) *log = out.str();
    throw;
  }
}

void expect_model_equals_fold(pqxx::connection& c) {
  for (const std::string table : {"orders", "customer_orders"}) {
    EXPECT_EQ(diff_rows(expected_rows(c, table), read_table(c, table)), "") << table;
  }
}

TEST(RebuildPg, RebuildsFromTheStoreComparesAndSwapsRepeatedly) {
  const auto url = migrated_database("rebuild_basic");
  pqxx::connection c(url);
  LoadSpec spec;
  spec.orders = 1500;
  ASSERT_EQ(load_events(c, spec), 15000);
  const auto indexes_before = index_names(c, "orders") + "|" + index_names(c, "customer_orders");
  const auto reloptions_before =
      q1(c,
         "SELECT string_agg(relname || ':' || coalesce(array_to_string(reloptions, ','), ''), ' ' "
         "ORDER BY relname) FROM pg_class WHERE relname IN ('orders', 'customer_orders')");

  // Empty live tables: everything is "missing from the live table".
  std::string log;
  auto r = run(url, all_projections(), &log);
  EXPECT_TRUE(r.swapped);
  EXPECT_EQ(r.events, 15000);
  EXPECT_EQ(r.orders, 1500);
  ASSERT_EQ(r.projections.size(), 2u);
  EXPECT_EQ(r.projections[0].comparison.diff.only_shadow, 1500) << log;
  expect_model_equals_fold(c);
  EXPECT_EQ(index_names(c, "orders") + "|" + index_names(c, "customer_orders"), indexes_before);
  EXPECT_EQ(q1(c,
               "SELECT count(*) FROM pg_class WHERE relname LIKE '%shadow%' AND relnamespace = "
               "'public'::regnamespace"),
            "0");
  EXPECT_EQ(q1(c, "SELECT string_agg(state, ',') FROM projections"), "live,live");
  EXPECT_EQ(q1(c, "SELECT relpersistence FROM pg_class WHERE relname = 'orders'"), "p");
  EXPECT_EQ(
      q1(c,
         "SELECT string_agg(relname || ':' || coalesce(array_to_string(reloptions, ','), ''), ' ' "
         "ORDER BY relname) FROM pg_class WHERE relname IN ('orders', 'customer_orders')"),
      reloptions_before);
  // Checkpoints: every event counted once per projection, lag 0.
  EXPECT_EQ(
      q1(c, "SELECT sum(events_applied) FROM projection_checkpoints WHERE projection = 'orders'"),
      "15000");
  EXPECT_EQ(q1(c,
               "SELECT max(last_global_position) FROM projection_checkpoints WHERE projection = "
               "'customers'"),
            "15000");

  // A second rebuild of a healthy model: identical, and the swap works again (names kept).
  // Nothing changed since the compare before the lock: under it only the few orders after the
  // lowest partition checkpoint (the last events of the other partitions), a short hold.
  r = run(url, all_projections(), &log);
  EXPECT_LT(r.projections[0].comparison.delta.shadow.rows, 100) << log;
  EXPECT_GT(r.projections[0].comparison.shadow.rows, 1400) << log;
  EXPECT_LT(r.cutover_seconds, 1.0) << log;
  EXPECT_NE(log.find("projector held"), std::string::npos) << log;
  EXPECT_TRUE(r.projections[0].comparison.identical()) << log;
  EXPECT_TRUE(r.projections[1].comparison.identical()) << log;
  EXPECT_NE(log.find("identical"), std::string::npos) << log;
  EXPECT_EQ(index_names(c, "orders") + "|" + index_names(c, "customer_orders"), indexes_before);
  expect_model_equals_fold(c);
}

TEST(RebuildPg, DryRunReportsDamageAndChangesNothingThenRebuildRepairs) {
  const auto url = migrated_database("rebuild_dry");
  pqxx::connection c(url);
  LoadSpec spec;
  spec.orders = 800;
  load_events(c, spec);
  run(url, all_projections());
  {
    pqxx::work tx(c);
    tx.exec("DELETE FROM orders WHERE order_id IN ('bulk-1', 'bulk-2', 'bulk-3')");
    tx.exec(
        "UPDATE orders SET status = 'Delivered', total_cents = 1 WHERE order_id IN ('bulk-10', "
        "'bulk-11')");
    tx.exec("DELETE FROM customer_orders WHERE order_id = 'bulk-20'");
    tx.exec(
        "INSERT INTO orders (order_id, customer_id, status, created_at, version) "
        "VALUES ('ghost', 'nobody', 'Draft', now(), 1)");
    tx.commit();
  }
  const auto before = digest(c, "orders") + digest(c, "customer_orders");
  const auto checkpoints = q1(c,
                              "SELECT string_agg(partition || ':' || events_applied, ',' ORDER BY "
                              "projection, partition) FROM projection_checkpoints");

  std::string log;
  auto r = run(url, all_projections(true), &log);
  EXPECT_FALSE(r.swapped);
  const auto& d = r.projections[0].comparison.diff;
  EXPECT_EQ(d.only_shadow, 3) << log;
  EXPECT_EQ(d.changed, 2) << log;
  EXPECT_EQ(d.only_live, 1) << log;
  EXPECT_EQ(r.projections[1].comparison.diff.only_shadow, 1) << log;
  EXPECT_NE(log.find("DIFFERENT"), std::string::npos) << log;
  EXPECT_NE(log.find("bulk-1"), std::string::npos) << log;
  EXPECT_NE(log.find("bulk-10: status live \"Delivered\" rebuilt \"Shipped\""), std::string::npos)
      << log;
  EXPECT_EQ(digest(c, "orders") + digest(c, "customer_orders"), before);
  EXPECT_EQ(q1(c,
               "SELECT string_agg(partition || ':' || events_applied, ',' ORDER BY projection, "
               "partition) FROM projection_checkpoints"),
            checkpoints);
  EXPECT_EQ(q1(c,
               "SELECT count(*) FROM pg_class WHERE relname LIKE '%shadow%' AND relnamespace = "
               "'public'::regnamespace"),
            "0");
  EXPECT_EQ(q1(c, "SELECT string_agg(state, ',') FROM projections"), "live,live");

  // Only "orders" (loaded UNLOGGED, then SET LOGGED): customers stays as damaged.
  RebuildOptions o = all_projections();
  o.projections = {*read_side::find_projection("orders")};
  o.unlogged_load = true;
  r = run(url, o, &log);
  EXPECT_TRUE(r.swapped);
  EXPECT_EQ(q1(c, "SELECT relpersistence FROM pg_class WHERE relname = 'orders'"), "p");
  EXPECT_EQ(diff_rows(expected_rows(c, "orders"), read_table(c, "orders")), "");
  EXPECT_NE(diff_rows(expected_rows(c, "customer_orders"), read_table(c, "customer_orders")), "");
  run(url, all_projections());
  expect_model_equals_fold(c);
}

TEST(RebuildPg, SecondConcurrentRebuildIsRefused) {
  const auto url = migrated_database("rebuild_lock");
  pqxx::connection c(url);
  LoadSpec spec;
  spec.orders = 100;
  load_events(c, spec);
  // Another rebuild of "customers" holds its run lock.
  pqxx::connection other(url);
  ASSERT_EQ(q1(other, "SELECT pg_try_advisory_lock(" +
                          std::to_string(read_side::kRebuildRunLockClass) + ", 1)"),
            "t");
  const auto before = digest(c, "customer_orders");
  try {
    run(url, all_projections());
    FAIL() << "a concurrent rebuild was not refused";
  } catch (const AlreadyRunning& e) {
    EXPECT_NE(std::string(e.what()).find("'customers' is already running"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(digest(c, "customer_orders"), before);
  EXPECT_EQ(q1(c, "SELECT string_agg(state, ',') FROM projections"), "live,live");
  // The refused run released the lock it had taken ("orders") itself, before closing its
  // connection (a closing backend releases its locks only when it exits, a moment later).
  EXPECT_EQ(
      q1(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = " +
                std::to_string(read_side::kRebuildRunLockClass) + " AND objid = 0"),
      "0");
  // "orders" alone is not blocked.
  RebuildOptions o = all_projections();
  o.projections = {*read_side::find_projection("orders")};
  EXPECT_TRUE(run(url, o).swapped);
  // Once the other run ends, a rebuild of customers goes ahead. (Unlock explicitly: after a
  // disconnect the server releases the lock only when the backend has exited, a moment later.)
  ASSERT_EQ(q1(other, "SELECT pg_advisory_unlock(" +
                          std::to_string(read_side::kRebuildRunLockClass) + ", 1)"),
            "t");
  other.disconnect();
  o.projections = {*read_side::find_projection("customers")};
  EXPECT_TRUE(run(url, o).swapped);
  expect_model_equals_fold(c);
}

TEST(RebuildPg, FailedRebuildLeavesLiveTablesUntouched) {
  const auto url = migrated_database("rebuild_fail");
  pqxx::connection c(url);
  LoadSpec spec;
  spec.orders = 300;
  load_events(c, spec);
  run(url, all_projections());
  const auto before = digest(c, "orders") + digest(c, "customer_orders");
  // The shadow copies the live table's CHECK constraints: one that a rebuilt row breaks makes
  // the write fail (a poison event would not: it is parked, see the next test).
  q1(c,
     "ALTER TABLE orders ADD CONSTRAINT rebuild_must_fail CHECK (order_id <> 'bulk-7') "
     "NOT VALID");
  std::string log;
  EXPECT_ANY_THROW(run(url, all_projections(), &log));
  EXPECT_EQ(digest(c, "orders") + digest(c, "customer_orders"), before);
  EXPECT_EQ(q1(c,
               "SELECT count(*) FROM pg_class WHERE relname LIKE '%shadow%' AND relnamespace = "
               "'public'::regnamespace"),
            "0");
  EXPECT_EQ(q1(c, "SELECT string_agg(state, ',') FROM projections"), "live,live");
}

// Events that do not fold (here an unknown schema version, and the order's next event behind it)
// do not fail the rebuild: their order stays at its last good version and the run reports them.
TEST(RebuildPg, EventsThatDoNotFoldAreReportedAsParkedNotAFailure) {
  const auto url = migrated_database("rebuild_parked");
  pqxx::connection c(url);
  LoadSpec spec;
  spec.orders = 300;
  load_events(c, spec);
  {
    pqxx::work tx(c);
    for (int version : {11, 12}) {
      tx.exec(
          "INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
          "VALUES (gen_random_uuid(), 'bulk-7', " +
          std::to_string(version) + ", 'OrderDelivered', " + (version == 11 ? "99" : "1") +
          ", '{}')");
      tx.exec(
          "INSERT INTO global_log (global_position, position) "
          "SELECT (SELECT max(global_position) + 1 FROM global_log), max(position) FROM events");
    }
    tx.commit();
  }
  const auto poison_position = q1(c, "SELECT max(global_position) - 1 FROM global_log");
  const auto r = run(url, all_projections());
  EXPECT_TRUE(r.swapped);
  ASSERT_EQ(r.parked.size(), 1u);
  const auto& [order_id, parked] = *r.parked.begin();
  EXPECT_EQ(order_id, "bulk-7");
  EXPECT_EQ(parked.events, 2);
  EXPECT_EQ(std::to_string(parked.first_position), poison_position);
  EXPECT_NE(parked.error.find("schema_version 99"), std::string::npos) << parked.error;
  EXPECT_EQ(q1(c, "SELECT version FROM orders WHERE order_id = 'bulk-7'"), "10");
  EXPECT_EQ(q1(c, "SELECT version FROM customer_orders WHERE order_id = 'bulk-7'"), "10");
  EXPECT_EQ(q1(c, "SELECT count(*) FROM orders"), "300");

  std::ostringstream out, err;
  EXPECT_EQ(
      read_side::rebuild::rebuild_projection_main(url, {"--all", "--dry-run"}, out, err, false), 0)
      << err.str();
  EXPECT_NE(out.str().find("parked: 2 events of 1 orders"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("bulk-7: 2 events from global position " + poison_position),
            std::string::npos)
      << out.str();
}

TEST(RebuildPg, CutoverWaitsForAnInFlightApplyAndIncludesWhatItWrote) {
  const auto url = migrated_database("rebuild_cutover");
  pqxx::connection c(url);
  LoadSpec spec;
  spec.orders = 500;
  load_events(c, spec);

  // A live apply transaction in flight: holds the cutover lock shared (as batch_apply does).
  pqxx::connection apply_conn(url);
  pqxx::work apply_tx(apply_conn);
  apply_tx.exec_params(read_side::kCutoverSharedLockSql, read_side::kCutoverLockClass,
                       static_cast<int>(read_side::projections().size()));

  auto rebuilt = std::async(std::launch::async, [&] { return run(url, all_projections()); });
  // The rebuild reaches the cutover and waits for the exclusive lock.
  pqxx::connection watch(url);
  ASSERT_TRUE(testing::wait_until(
      [&] {
        return q1(watch,
                  "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                  "AND classid::bigint = " +
                      std::to_string(read_side::kCutoverLockClass)) != "0";
      },
      std::chrono::seconds(60), std::chrono::milliseconds(20)));
  // Meanwhile more events are sequenced (as the relay would), then the apply commits.
  LoadSpec more;
  more.orders = 40;
  more.prefix = "late";
  pqxx::connection writer(url);
  load_events(writer, more);
  apply_tx.commit();

  auto r = rebuilt.get();
  EXPECT_TRUE(r.swapped);
  EXPECT_EQ(r.events, 5400);  // the tail read under the exclusive lock has the late events
  expect_model_equals_fold(c);
  // The 500 orders were compared before the lock; under it only the 40 that changed since.
  const auto& cmp = r.projections[0].comparison;
  EXPECT_EQ(cmp.settled_through, 5000);
  EXPECT_EQ(cmp.shadow.rows, 500);
  EXPECT_EQ(cmp.diff.only_shadow, 500);
  EXPECT_EQ(cmp.delta.shadow.rows, 40);
  EXPECT_EQ(cmp.delta.live.rows, 0);
  EXPECT_EQ(cmp.delta.diff.only_shadow, 40);
  EXPECT_EQ(cmp.delta.shadow_lines.rows, 200);
}

}  // namespace
}  // namespace orders::rebuild_test
