// The outbox relay end to end: real PostgreSQL (shared_pg), real nats-server (one per test),
// writers appending events + outbox rows with SQL the way the write-side does. Every test ends by
// reading the whole JetStream stream and checking guarantee 4: each committed event exactly once,
// at stream sequence == global_position == 1..N, each order's versions in order.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "common/codec/bus_envelope.hpp"
#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "common/nats/stream_admin.hpp"
#include "tests/support/relay_support.hpp"
#include "tests/support/services.hpp"
#include "write-side/relay/outbox_relay.hpp"

namespace orders::relay_test {
namespace {

using namespace std::chrono_literals;
using orders::testing::wait_until;

// Concurrent SQL writers: each transaction appends to 1-2 orders of a shared pool (sorted, so two
// writers cannot deadlock), pauses a random 0-pause_max after each append before committing, and
// rolls back one transaction in ten.
class Writers {
 public:
  Writers(std::string url, int threads, int txs_per_thread, std::chrono::microseconds pause_max,
          int orders = 400)
      : url_(std::move(url)) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, t, txs_per_thread, pause_max, orders] {
        pqxx::connection c(url_);
        std::mt19937 rng(static_cast<unsigned>(t * 7919 + 1));
        std::uniform_int_distribution<int> pick(0, orders - 1), two(0, 1), ten(0, 9);
        std::uniform_int_distribution<long> pause(0, pause_max.count());
        for (int i = 0; (txs_per_thread < 0 || i < txs_per_thread) && !stop_; ++i) {
          std::vector<std::string> streams{"order-" + std::to_string(pick(rng))};
          if (two(rng) == 1) streams.push_back("order-" + std::to_string(pick(rng)));
          std::sort(streams.begin(), streams.end());
          streams.erase(std::unique(streams.begin(), streams.end()), streams.end());
          try {
            ledger.add(append_tx(c, streams, std::chrono::microseconds(pause(rng)), ten(rng) == 0));
          } catch (const pqxx::sql_error&) {
            // a concurrent writer took the version (unique violation): nothing committed, go on
          }
        }
      });
    }
  }
  ~Writers() {
    stop();
    join();
  }
  void stop() { stop_ = true; }
  void join() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  Ledger ledger;

 private:
  std::string url_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    db_ = migrated_database("relay_" + name.substr(0, 30));
  }

  relay::RelayOptions options(const std::string& db = "") {
    relay::RelayOptions o;
    o.database_url = db.empty() ? db_ : db;
    o.nats_url = nats_.url();
    o.stream = "ORDERS";
    o.backoff_min = 50ms;
    o.backoff_max = 1000ms;
    o.ack_timeout = 2000ms;
    o.leader_retry = 200ms;
    return o;
  }
  std::unique_ptr<relay::OutboxRelay> relay(const std::string& db = "") {
    return std::make_unique<relay::OutboxRelay>(options(db), log_, registry_);
  }
  std::uint64_t msgs() { return stream_msgs(nats_.url(), "ORDERS"); }
  bool stream_reaches(std::size_t n, std::chrono::milliseconds deadline = 60s) {
    return wait_until([&] { return msgs() >= n; }, deadline, 100ms);
  }
  std::int64_t db_value(const std::string& sql) {
    pqxx::connection c(db_);
    pqxx::nontransaction tx(c);
    return tx.exec(sql)[0][0].as<std::int64_t>();
  }
  void expect_stream_matches(const std::vector<Appended>& committed) {
    ASSERT_TRUE(stream_reaches(committed.size())) << msgs() << " of " << committed.size();
    auto all = read_stream(nats_.url(), "ORDERS");
    EXPECT_EQ(verify_stream(all, committed), "");
    EXPECT_EQ(msgs(), committed.size());
  }

  orders::testing::NatsServer nats_;
  log::Logger log_{"relay-test", log::Level::Warn};
  metrics::Registry registry_;
  std::string db_;
};

TEST_F(RelayTest, GapFree_16ConcurrentWritersWithRandomCommitDelays) {
  auto r = relay();
  r->start();
  Writers w(db_, 16, 60, 3000us);
  w.join();
  auto committed = w.ledger.all();
  ASSERT_GT(committed.size(), 1000u);
  expect_stream_matches(committed);
  EXPECT_TRUE(wait_until(
      [&] {
        return db_value("SELECT last_published FROM relay_state") ==
               static_cast<std::int64_t>(committed.size());
      },
      10s));
  EXPECT_EQ(db_value("SELECT count(*) FROM outbox"), 0);
  EXPECT_EQ(db_value("SELECT count(*) FROM global_log"),
            static_cast<std::int64_t>(committed.size()));
  EXPECT_TRUE(r->is_leader());
  EXPECT_TRUE(r->nats_connected());
  EXPECT_EQ(r->stats().published, committed.size());
}

TEST_F(RelayTest, NatsKilledAndRestartedMidLoad_NothingLost) {
  auto r = relay();
  r->start();
  Writers w(db_, 8, -1, 2000us);
  ASSERT_TRUE(stream_reaches(300));
  nats_.kill9();
  ASSERT_TRUE(wait_until([&] { return !r->nats_connected(); }, 10s));
  auto before = w.ledger.size();
  ASSERT_TRUE(wait_until([&] { return w.ledger.size() > before + 300; }, 30s));  // writes go on
  nats_.start();
  ASSERT_TRUE(wait_until([&] { return r->nats_connected(); }, 20s));
  auto after = w.ledger.size();
  ASSERT_TRUE(wait_until([&] { return w.ledger.size() > after + 300; }, 30s));
  w.stop();
  w.join();
  expect_stream_matches(w.ledger.all());
  EXPECT_TRUE(r->is_leader());
}

TEST_F(RelayTest, TwoRelays_OneLeaderAtATime_NoDuplicatesAcrossHandovers) {
  auto a = relay();
  auto b = relay();
  a->start();
  ASSERT_TRUE(wait_until([&] { return a->is_leader(); }, 10s));
  b->start();
  std::atomic<bool> sampling{true};
  std::atomic<int> both{0};
  std::mutex a_mu;  // `a` is replaced below while the sampler reads it
  std::thread sampler([&] {
    while (sampling) {
      {
        std::lock_guard lock(a_mu);
        if (a->is_leader() && b->is_leader()) ++both;
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  Writers w(db_, 8, -1, 2000us);
  ASSERT_TRUE(stream_reaches(300));
  EXPECT_FALSE(b->is_leader());

  a->stop();  // finishes its batch and releases the lock; b takes over
  ASSERT_TRUE(wait_until([&] { return b->is_leader(); }, 10s));
  auto n = msgs();
  ASSERT_TRUE(stream_reaches(n + 300));
  {
    std::lock_guard lock(a_mu);
    a = relay();
  }
  a->start();  // a candidate again
  n = msgs();
  ASSERT_TRUE(stream_reaches(n + 300));
  sampling = false;
  sampler.join();
  EXPECT_EQ(both.load(), 0) << "two relays were leader at the same time";
  EXPECT_FALSE(a->is_leader());

  // Fault injection: the leader's lease connection is killed: the leader must step down at once
  // and a new term begin (either replica may win the lock).
  auto terms = a->stats().leader_terms + b->stats().leader_terms;
  db_value(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' "
      "AND granted AND ((classid::bigint << 32) | objid::bigint) = " +
      std::to_string(relay::kRelayLockKey));
  ASSERT_TRUE(
      wait_until([&] { return a->stats().leader_terms + b->stats().leader_terms > terms; }, 10s));
  // The old leader learns of its lost lease at its next lease check (its killed connection can
  // publish nothing meanwhile): the new term may begin a moment before it steps down, and under a
  // sanitizer that moment is longer. It must step down within the deadline.
  EXPECT_TRUE(wait_until([&] { return a->is_leader() != b->is_leader(); }, 5s))
      << "a " << a->is_leader() << ", b " << b->is_leader();
  n = msgs();
  ASSERT_TRUE(stream_reaches(n + 300));
  w.stop();
  w.join();
  expect_stream_matches(w.ledger.all());
  EXPECT_GE(b->stats().leader_terms, 1u);
}

// The message body is written straight from the row (codec::write_wire_json in the relay): it
// must decode with the read-side's codec::from_wire_json to exactly the stored event, also with
// characters that need escaping in ids, and data/metadata with nesting, unicode and escapes.
TEST_F(RelayTest, MessageBodyIsTheWireFormOfTheStoredEvent) {
  {
    pqxx::connection c(db_);
    pqxx::work tx(c);
    tx.exec(R"sql(
      WITH e AS (
        INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata)
        VALUES (gen_random_uuid(), 'ord:1_a.b-"q"\z', 1, 'OrderCreated', 1,
                '{"customer_id": "c \"1\" \u00e9\n", "n": 12345678901234, "x": [1.50, {"y": null}]}',
                '{"command": "CreateOrder", "request_id": "r\t1"}'),
               (gen_random_uuid(), 'ord:1_a.b-"q"\z', 2, 'OrderItemAdded', 1, '{}', '{}')
        RETURNING position)
      INSERT INTO outbox (position) SELECT position FROM e)sql");
    tx.commit();
  }
  auto r = relay();
  r->start();
  ASSERT_TRUE(stream_reaches(2));
  auto msgs_read = read_stream(nats_.url(), "ORDERS");
  ASSERT_EQ(msgs_read.size(), 2u);
  pqxx::connection c(db_);
  pqxx::nontransaction tx(c);
  auto rows = tx.exec(
      "SELECT g.global_position, e.event_id::text, e.stream_id, e.version, e.position, e.type, "
      "e.schema_version, "
      "(extract(epoch FROM e.recorded_at) * 1000000)::bigint, e.data::text, e.metadata::text "
      "FROM global_log g JOIN events e ON e.position = g.position ORDER BY 1");
  ASSERT_EQ(rows.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& row = rows[static_cast<pqxx::result::size_type>(i)];
    auto decoded = codec::from_wire_json(msgs_read[i].body.dump());
    ASSERT_TRUE(decoded.has_value()) << msgs_read[i].body.dump();
    EXPECT_EQ(decoded->global_position, row[0].as<std::int64_t>());
    EXPECT_EQ(decoded->event_id, row[1].as<std::string>());
    EXPECT_EQ(msgs_read[i].msg_id, row[1].as<std::string>());
    EXPECT_EQ(decoded->stream_id, row[2].as<std::string>());
    EXPECT_EQ(decoded->version, row[3].as<std::int64_t>());
    EXPECT_EQ(decoded->position, row[4].as<std::int64_t>());
    EXPECT_EQ(decoded->type, row[5].as<std::string>());
    EXPECT_EQ(decoded->schema_version, row[6].as<int>());
    EXPECT_EQ(decoded->recorded_at_us, row[7].as<std::int64_t>());
    EXPECT_EQ(decoded->data, nlohmann::json::parse(row[8].as<std::string>()));
    EXPECT_EQ(decoded->metadata, nlohmann::json::parse(row[9].as<std::string>()));
  }
  EXPECT_EQ(msgs_read[0].body.at("data").at("customer_id"), "c \"1\" \u00e9\n");
  EXPECT_EQ(msgs_read[0].body.at("stream_id"), "ord:1_a.b-\"q\"\\z");
}

TEST_F(RelayTest, RestartRepublishesNothingAlreadyInTheStream) {
  {
    Writers w(db_, 4, 100, 0us);
    w.join();
    auto r = relay();
    r->start();
    ASSERT_TRUE(stream_reaches(w.ledger.size()));
    ASSERT_TRUE(wait_until(
        [&] {
          return db_value("SELECT last_published FROM relay_state") ==
                 static_cast<std::int64_t>(w.ledger.size());
        },
        10s));
    r->stop();
  }
  auto published = db_value("SELECT last_published FROM relay_state");
  // A crash after the acks but before last_published was advanced:
  db_value("UPDATE relay_state SET last_published = 0 RETURNING 0");
  auto r = relay();
  r->start();
  ASSERT_TRUE(wait_until(
      [&] { return db_value("SELECT last_published FROM relay_state") == published; }, 20s));
  EXPECT_EQ(r->stats().published, 0u);
  EXPECT_EQ(msgs(), static_cast<std::uint64_t>(published));

  Writers more(db_, 2, 50, 0us);
  more.join();
  ASSERT_TRUE(stream_reaches(published + more.ledger.size()));
  EXPECT_EQ(r->stats().published, more.ledger.size());
  EXPECT_EQ(msgs(), published + more.ledger.size());
}

TEST_F(RelayTest, LostStreamIsRecreatedAndRepublishedInOrder) {
  auto r = relay();
  r->start();
  Writers w(db_, 4, 50, 0us);
  w.join();
  ASSERT_TRUE(stream_reaches(w.ledger.size()));
  {
    auto conn = nats::Connection::connect(nats_.url());
    nats::StreamAdmin(conn).delete_stream("ORDERS");
  }
  Writers more(db_, 2, 20, 0us);
  more.join();
  auto all = w.ledger.all();
  auto extra = more.ledger.all();
  all.insert(all.end(), extra.begin(), extra.end());
  expect_stream_matches(all);
}

TEST_F(RelayTest, StreamOfAnotherDatabaseIsNeverWrittenTo) {
  auto r = relay();
  r->start();
  Writers w(db_, 2, 50, 0us);
  w.join();
  ASSERT_TRUE(stream_reaches(w.ledger.size()));
  r->stop();
  auto other = migrated_database("relay_other_db");
  Writers w2(other, 1, 10, 0us);
  w2.join();
  auto r2 = relay(other);
  r2->start();
  ASSERT_TRUE(wait_until([&] { return r2->stats().stream_mismatches > 0; }, 20s));
  EXPECT_EQ(r2->stats().published, 0u);
  expect_stream_matches(w.ledger.all());
}

// Postgres restarts under the relay (the leader connection and the work connection die): the relay
// steps down, retries with backoff, takes the lease again and publishes what came after.
TEST_F(RelayTest, PostgresRestart_RelayRecoversLeadershipAndPublishesTheRest) {
  auto r = relay();
  r->start();
  auto first = bulk_append(db_, 3000, 100);
  ASSERT_TRUE(stream_reaches(first.size()));
  orders::testing::shared_pg().restart();
  ASSERT_TRUE(wait_until([&] { return r->stats().leader_terms >= 2 && r->is_leader(); }, 30s));
  auto second = bulk_append(db_, 3000, 100);
  first.insert(first.end(), second.begin(), second.end());
  expect_stream_matches(first);
}

// The relay process is killed with SIGKILL while it drains a large outbox (async publishes in
// flight, acks not yet recorded), twice; the restarted relay resyncs from the stream: every event
// is in the stream exactly once, in order.
TEST_F(RelayTest, RelayProcessKilledMidBatch_NothingLostNothingTwice) {
  const auto committed = bulk_append(db_, 20000, 500);
  const auto total = committed.size();
  ASSERT_EQ(total, 20000u);
  auto run = [&] {
    return std::make_unique<orders::testing::Process>(RELAY_RUNNER_BIN,
                                                      std::vector<std::string>{db_, nats_.url()},
                                                      std::map<std::string, std::string>{});
  };
  for (std::size_t stop_at : {total / 4, total / 2}) {
    auto p = run();
    ASSERT_TRUE(wait_until([&] { return msgs() >= stop_at; }, 60s, 5ms)) << p->log();
    p->kill9();
    EXPECT_LT(msgs(), total) << "killed too late to be mid-drain";
  }
  auto p = run();
  expect_stream_matches(committed);
  EXPECT_TRUE(wait_until(
      [&] {
        return db_value("SELECT last_published FROM relay_state") ==
               static_cast<std::int64_t>(total);
      },
      10s));
}

}  // namespace
}  // namespace orders::relay_test
