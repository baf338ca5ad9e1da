// pg::Pool and pg::apply_migrations against a real PostgreSQL (tests/support shared_pg()).
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "common/http/server.hpp"
#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "common/pg/migrations.hpp"
#include "common/pg/pool.hpp"
#include "common/pg/pool_metrics.hpp"
#include "common/pg/sqlstate.hpp"
#include "tests/support/services.hpp"

namespace orders::pg {
namespace {

using namespace std::chrono_literals;
using orders::testing::shared_pg;
using orders::testing::wait_until;

int backend_pid(pqxx::connection& conn) {
  pqxx::work tx(conn);
  return tx.exec("SELECT pg_backend_pid()")[0][0].as<int>();
}

bool has(const metrics::Registry& r, const std::string& sample) {
  return r.render().find(sample) != std::string::npos;
}

TEST(PoolMetrics, InUseWaitingAcquireTimeAndTimeouts) {
  const std::string url = shared_pg().create_database("pool_metrics");
  metrics::Registry registry;
  Pool pool(url, 2, {}, 300ms);
  register_pool_metrics(registry, pool, "main");
  EXPECT_TRUE(has(registry, "orders_pg_pool_max_connections{pool=\"main\"} 2\n"));
  {
    auto a = pool.acquire();
    auto b = pool.acquire();
    EXPECT_TRUE(has(registry, "orders_pg_pool_connections{pool=\"main\",state=\"in_use\"} 2\n"))
        << registry.render();
    auto waiter = std::async(std::launch::async, [&] { return pool.acquire(5s); });
    EXPECT_TRUE(
        wait_until([&] { return has(registry, "orders_pg_pool_waiting{pool=\"main\"} 1\n"); }, 5s))
        << registry.render();
    { auto freed = std::move(a); }  // the waiter gets it
    auto c = waiter.get();          // held: the pool is full again
    EXPECT_THROW(pool.acquire(50ms), PoolExhausted);
    EXPECT_TRUE(has(registry, "orders_pg_pool_acquire_timeouts_total{pool=\"main\"} 1\n"));
  }
  EXPECT_TRUE(has(registry, "orders_pg_pool_waiting{pool=\"main\"} 0\n"));
  EXPECT_TRUE(has(registry, "orders_pg_pool_connections{pool=\"main\",state=\"in_use\"} 0\n"));
  EXPECT_TRUE(has(registry, "orders_pg_pool_connections{pool=\"main\",state=\"idle\"} 2\n"));
  EXPECT_TRUE(has(registry, "orders_pg_pool_acquire_seconds_count{pool=\"main\"} 3\n"))
      << registry.render();
}

TEST(Migrations, StatusNamesMissingEditedAndStaleFunctions) {
  const std::string url = shared_pg().create_database("migration_status");
  pqxx::connection conn(url);
  EXPECT_FALSE(migration_status(conn).current());
  EXPECT_EQ(migration_status(conn).missing.size(), embedded_migrations().size());
  apply_migrations(conn);
  EXPECT_TRUE(migration_status(conn).current());
  shared_pg().psql(url, "UPDATE schema_migrations SET checksum = 'x' WHERE version = 1");
  shared_pg().psql(url, "UPDATE schema_repeatables SET checksum = 'x' WHERE file = '" +
                            std::string(embedded_repeatables().front().file) + "'");
  shared_pg().psql(
      url, "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'n', 'c')");
  const auto st = migration_status(conn);
  EXPECT_FALSE(st.current());
  ASSERT_EQ(st.edited.size(), 1u);
  EXPECT_EQ(st.edited[0], embedded_migrations().front().file);
  ASSERT_EQ(st.stale_repeatables.size(), 1u);
  EXPECT_EQ(st.unknown, std::vector<int>{999});
  EXPECT_TRUE(st.missing.empty());
}

TEST(Migrations, ApplyingTwiceChangesNothing) {
  const std::string url = shared_pg().create_database("migrations_twice");
  pqxx::connection conn(url);
  EXPECT_FALSE(migrations_current(conn));

  const auto first = apply_migrations(conn);
  ASSERT_EQ(first.applied.size(), embedded_migrations().size());
  EXPECT_EQ(first.current, embedded_migrations().back().version);
  EXPECT_TRUE(migrations_current(conn));
  const std::string before =
      shared_pg().psql(url,
                       "SELECT string_agg(version || ':' || name || ':' || applied_at, ',' ORDER "
                       "BY version) FROM schema_migrations");

  const auto second = apply_migrations(conn);
  EXPECT_TRUE(second.applied.empty());
  EXPECT_EQ(second.current, first.current);
  const std::string after =
      shared_pg().psql(url,
                       "SELECT string_agg(version || ':' || name || ':' || applied_at, ',' ORDER "
                       "BY version) FROM schema_migrations");
  EXPECT_EQ(before, after);
  EXPECT_TRUE(migrations_current(conn));
}

TEST(Migrations, ConcurrentStartersApplyEachVersionOnce) {
  const std::string url = shared_pg().create_database("migrations_race");
  std::vector<std::future<MigrationReport>> runs;
  runs.reserve(3);
  for (int i = 0; i < 3; ++i) {
    runs.push_back(std::async(std::launch::async, [url] {
      pqxx::connection conn(url);
      return apply_migrations(conn);
    }));
  }
  std::size_t applied = 0;
  for (auto& r : runs) applied += r.get().applied.size();  // none throws
  EXPECT_EQ(applied, embedded_migrations().size());
  EXPECT_EQ(shared_pg().psql(url, "SELECT count(*) FROM schema_migrations"),
            std::to_string(embedded_migrations().size()));
}

TEST(Migrations, AFailedMigrationLeavesNoRecordAndReleasesTheLock) {
  const std::string url = shared_pg().create_database("migrations_fail");
  pqxx::connection conn(url);
  // Occupy a name the first migration creates, so it fails.
  shared_pg().psql(url,
                   "CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL, "
                   "applied_at timestamptz NOT NULL DEFAULT now())");
  shared_pg().psql(url, "CREATE VIEW events AS SELECT 1 AS x");
  EXPECT_ANY_THROW(apply_migrations(conn));
  EXPECT_EQ(shared_pg().psql(url, "SELECT count(*) FROM schema_migrations"), "0");
  // The advisory lock was released: another session can take it without waiting.
  EXPECT_EQ(shared_pg().psql(
                url, "SELECT pg_try_advisory_lock(" + std::to_string(0x6f72646572730001LL) + ")"),
            "t");
}

TEST(Pool, ConnectsLazilySoTheServiceCanStartWhilePostgresIsDown) {
  const int port = orders::testing::free_port();
  Pool pool("postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/x?connect_timeout=2", 2,
            {}, 200ms);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_THROW(pool.acquire(), pqxx::broken_connection);
  EXPECT_EQ(pool.in_use(), 0u);  // the failed slot was given back
  EXPECT_TRUE(
      orders::pg::is_transient(std::make_exception_ptr(pqxx::broken_connection("cannot connect"))));
}

TEST(Pool, ReusesConnectionsAndRunsInitOnEachNewOne) {
  const std::string url = shared_pg().create_database("pool_reuse");
  std::atomic<int> inits{0};
  Pool pool(url, 2, [&inits](pqxx::connection& c) {
    ++inits;
    c.prepare("one", "SELECT $1::int + 1");
  });
  int pid = 0;
  {
    auto lease = pool.acquire();
    EXPECT_EQ(pool.in_use(), 1u);
    pqxx::work tx(*lease);
    EXPECT_EQ(tx.exec_prepared("one", 41)[0][0].as<int>(), 42);
    tx.commit();
    pid = backend_pid(*lease);
  }
  EXPECT_EQ(pool.in_use(), 0u);
  auto again = pool.acquire();
  EXPECT_EQ(backend_pid(*again), pid);
  EXPECT_EQ(inits.load(), 1);
}

TEST(Pool, ExhaustedPoolThrowsAfterTheAcquireTimeout) {
  const std::string url = shared_pg().create_database("pool_exhausted");
  Pool pool(url, 2, {}, 150ms);
  auto a = pool.acquire();
  auto b = pool.acquire();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(pool.acquire(), PoolExhausted);
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 140ms);
  EXPECT_LT(waited, 2s);
  EXPECT_TRUE(orders::pg::is_transient(std::make_exception_ptr(PoolExhausted("x"))));
}

TEST(Pool, AWaiterGetsTheConnectionAnotherReleases) {
  const std::string url = shared_pg().create_database("pool_waiter");
  Pool pool(url, 1, {}, 5s);
  auto held = std::make_unique<Pool::Lease>(pool.acquire());
  const int pid = backend_pid(**held);
  auto waiter = std::async(std::launch::async, [&pool] {
    auto lease = pool.acquire();
    return backend_pid(*lease);
  });
  EXPECT_EQ(waiter.wait_for(100ms), std::future_status::timeout);
  held.reset();
  ASSERT_EQ(waiter.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(waiter.get(), pid);
}

TEST(Pool, HealsAfterPgTerminateBackend) {
  const std::string url = shared_pg().create_database("pool_heal");
  Pool pool(url, 2);
  int old_pid = 0;
  {
    auto lease = pool.acquire();
    old_pid = backend_pid(*lease);
  }
  // Kill the idle pooled connection's backend.
  ASSERT_EQ(shared_pg().psql(url, "SELECT pg_terminate_backend(" + std::to_string(old_pid) + ")"),
            "t");
  ASSERT_TRUE(wait_until(
      [&] {
        return shared_pg().psql(url, "SELECT count(*) FROM pg_stat_activity WHERE pid = " +
                                         std::to_string(old_pid)) == "0";
      },
      5s));
  // The next lease is a fresh, working connection: no failed request on the way.
  auto lease = pool.acquire();
  const int new_pid = backend_pid(*lease);
  EXPECT_NE(new_pid, old_pid);
}

TEST(Pool, ALeasedConnectionKilledMidUseIsDroppedAndReplaced) {
  const std::string url = shared_pg().create_database("pool_midway");
  Pool pool(url, 1, {}, 1s);
  int old_pid = 0;
  {
    auto lease = pool.acquire();
    old_pid = backend_pid(*lease);
    ASSERT_EQ(shared_pg().psql(url, "SELECT pg_terminate_backend(" + std::to_string(old_pid) + ")"),
              "t");
    std::exception_ptr failure;
    try {
      pqxx::work tx(*lease);
      tx.exec("SELECT 1");
      tx.commit();
    } catch (...) {
      failure = std::current_exception();
    }
    ASSERT_TRUE(failure) << "query on a terminated backend succeeded";
    // What the HTTP layer would answer: 503 + Retry-After, not 500.
    EXPECT_TRUE(orders::pg::is_transient(failure));
  }
  // The pool of size 1 is not stuck with the dead connection.
  auto lease = pool.acquire();
  EXPECT_NE(backend_pid(*lease), old_pid);
}

TEST(Pool, StatementTimeoutIsTransientAndTheConnectionStaysUsable) {
  const std::string url = shared_pg().create_database("pool_stmt_timeout");
  Pool pool(url, 1, [](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec("SET statement_timeout = 50");
  });
  auto lease = pool.acquire();
  std::exception_ptr failure;
  try {
    pqxx::work tx(*lease);
    tx.exec("SELECT pg_sleep(2)");
  } catch (...) {
    failure = std::current_exception();
  }
  ASSERT_TRUE(failure);
  EXPECT_TRUE(orders::pg::is_transient(failure));
  pqxx::work tx(*lease);
  EXPECT_EQ(tx.exec("SELECT 1")[0][0].as<int>(), 1);
}

// The whole path a service takes: a handler that needs a connection from an exhausted pool answers
// 503 + Retry-After within the acquire time-out instead of hanging; a killed backend gives 503, not
// 500; and the next request succeeds on a fresh connection.
TEST(Pool, ThroughTheHttpServerExhaustionAndLostConnectionsAre503) {
  const std::string url = shared_pg().create_database("pool_http");
  Pool pool(url, 1, {}, 200ms);
  log::Logger logger("pool-http", log::Level::Error);
  metrics::Registry metrics;
  http::Router router;
  router.add("GET", "/pid", [&pool](const http::Request&) {
    auto lease = pool.acquire();
    pqxx::work tx(*lease);
    const int pid = tx.exec("SELECT pg_backend_pid()")[0][0].as<int>();
    return http::json_response(200, {{"pid", pid}});
  });
  http::ServerOptions options;
  options.port = 0;
  options.is_transient = pg::is_transient;
  http::Server server(options, std::move(router), logger, metrics);
  server.start();
  orders::testing::HttpClient client("127.0.0.1", server.port());

  const auto first = client.get("/pid");
  ASSERT_EQ(first.status, 200) << first.body;
  const int pid = first.json().at("pid");

  {
    auto held = pool.acquire();  // the only connection
    const auto t0 = std::chrono::steady_clock::now();
    const auto busy = client.get("/pid");
    EXPECT_EQ(busy.status, 503) << busy.body;
    EXPECT_EQ(busy.headers.count("retry-after"), 1u);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    // Kill the connection's backend while it sits leased; it goes back to the pool afterwards.
    ASSERT_EQ(shared_pg().psql(url, "SELECT pg_terminate_backend(" + std::to_string(pid) + ")"),
              "t");
    ASSERT_TRUE(wait_until(
        [&] {
          return shared_pg().psql(url, "SELECT count(*) FROM pg_stat_activity WHERE pid = " +
                                           std::to_string(pid)) == "0";
        },
        5s));
  }
  // The pool notices the dead idle connection and opens a new one: no 500 on the way.
  const auto healed = client.get("/pid");
  ASSERT_EQ(healed.status, 200) << healed.body;
  EXPECT_NE(healed.json().at("pid").get<int>(), pid);
  server.stop();
}

}  // namespace
}  // namespace orders::pg
