// rebuild-projection end to end: real PostgreSQL and nats-server, the write-side and read-side
// binaries, the rebuild run as `read-side rebuild-projection`.
//  * a read model damaged on purpose is rebuilt while a query loop runs: no query fails, no
//    existing order answers 404, and afterwards the tables equal a fresh fold of the event store;
//  * a rebuild racing live writes loses none of them (and /projections lag returns to 0);
//  * a second concurrent rebuild is refused; --dry-run changes nothing;
//  * schema_version 1 events inserted with SQL are read correctly by the write-side (a new
//    command, /state time travel, the /events audit trail), the projector and the rebuild.
#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "read-side/projector/locks.hpp"
#include "tests/support/event_loader.hpp"
#include "tests/support/services.hpp"

namespace orders::rebuild_test {
namespace {

using namespace std::chrono_literals;
using testing::HttpClient;
using testing::HttpResult;

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

// PostgreSQL (shared cluster, own database), nats-server, write-side, read-side.
class Stack {
 public:
  explicit Stack(const std::string& hint) {
    db_url_ = testing::shared_pg().create_database(hint);
    write_port_ = testing::free_port();
    read_port_ = testing::free_port();
    write_ = testing::start_service(testing::write_side_binary(), {},
                                    {{"DATABASE_URL", db_url_},
                                     {"NATS_URL", nats_.url()},
                                     {"WRITE_PORT", std::to_string(write_port_)},
                                     {"LOG_LEVEL", "warn"},
                                     {"PG_POOL_SIZE", "8"},
                                     {"HTTP_WORKERS", "16"}},
                                    write_port_, 30s);
    read_ = testing::start_service(testing::read_side_binary(), {},
                                   {{"DATABASE_URL", db_url_},
                                    {"NATS_URL", nats_.url()},
                                    {"READ_PORT", std::to_string(read_port_)},
                                    {"LOG_LEVEL", "warn"},
                                    {"PG_POOL_SIZE", "8"},
                                    {"HTTP_WORKERS", "16"},
                                    {"REPLICA_ID", hint}},
                                   read_port_, 30s);
  }

  const std::string& db_url() const { return db_url_; }
  HttpClient write_client() const { return HttpClient("127.0.0.1", write_port_); }
  HttpClient read_client() const { return HttpClient("127.0.0.1", read_port_); }

  // Starts `read-side rebuild-projection args...` (stdout+stderr to a log file).
  std::unique_ptr<testing::Process> start_rebuild(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"rebuild-projection"};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<testing::Process>(
        testing::read_side_binary(), argv,
        std::map<std::string, std::string>{
            {"DATABASE_URL", db_url_}, {"NATS_URL", nats_.url()}, {"LOG_LEVEL", "warn"}});
  }
  // Runs it to the end; returns (exit code, output).
  std::pair<int, std::string> rebuild(const std::vector<std::string>& args) {
    auto p = start_rebuild(args);
    auto rc = p->wait(90s);
    return {rc.value_or(-1), p->log()};
  }

 private:
  std::string db_url_;
  testing::NatsServer nats_;
  int write_port_ = 0;
  int read_port_ = 0;
  std::unique_ptr<testing::Process> write_;
  std::unique_ptr<testing::Process> read_;
};

struct Acked {
  std::string order_id;
  std::string customer_id;
  std::int64_t version = 0;
};

// Creates an order with `items` items through the write-side; confirms it when asked.
Acked make_order(HttpClient& w, const std::string& id, const std::string& customer, int items,
                 bool confirm) {
  Acked a{id, customer, 0};
  auto r = w.post("/orders", nlohmann::json{{"order_id", id}, {"customer_id", customer}}.dump());
  if (r.status != 201)
    throw std::runtime_error("create " + id + ": " + std::to_string(r.status) + " " + r.body);
  a.version = r.json().at("version").get<std::int64_t>();
  for (int i = 0; i < items; ++i) {
    r = w.post("/orders/" + id + "/items",
               nlohmann::json{{"product_id", "sku-" + std::to_string(i)},
                              {"quantity", 1 + i},
                              {"price", std::to_string(3 + i) + ".25"}}
                   .dump());
    if (r.status != 200)
      throw std::runtime_error("add item " + id + ": " + std::to_string(r.status) + " " + r.body);
    a.version = r.json().at("version").get<std::int64_t>();
  }
  if (confirm) {
    r = w.post("/orders/" + id + "/confirm", "");
    if (r.status != 200)
      throw std::runtime_error("confirm " + id + ": " + std::to_string(r.status) + " " + r.body);
    a.version = r.json().at("version").get<std::int64_t>();
  }
  return a;
}

// Waits until the read-side serves every order at (at least) its acknowledged version.
void expect_read_side_has(HttpClient& r, const std::vector<Acked>& acked) {
  for (const auto& a : acked) {
    auto res = r.get("/orders/" + a.order_id + "?min_version=" + std::to_string(a.version) +
                     "&wait_ms=10000");
    ASSERT_EQ(res.status, 200) << a.order_id << " v" << a.version << ": " << res.body;
    EXPECT_GE(res.json().at("version").get<std::int64_t>(), a.version) << a.order_id;
  }
}

void expect_tables_equal_fold(pqxx::connection& c) {
  for (const std::string table : {"orders", "customer_orders"}) {
    std::string diff;
    const bool equal = testing::wait_until(
        [&] {
          diff = diff_rows(expected_rows(c, table), read_table(c, table));
          return diff.empty();
        },
        20s, 100ms);
    EXPECT_TRUE(equal) << table << ": " << diff;
  }
}

// Damages the read model: deletes and alters rows of both tables. Returns the deleted order ids.
std::set<std::string> damage(pqxx::connection& c, const std::vector<Acked>& orders) {
  std::set<std::string> deleted;
  pqxx::work tx(c);
  for (std::size_t i = 0; i < orders.size(); ++i) {
    const auto id = tx.quote(orders[i].order_id);
    if (i % 10 == 0) {
      tx.exec("DELETE FROM orders WHERE order_id = " + id);
      deleted.insert(orders[i].order_id);
    } else if (i % 10 == 1) {
      tx.exec(
          "UPDATE orders SET status = 'Delivered', total_cents = total_cents + 999 "
          "WHERE order_id = " +
          id);
      tx.exec("DELETE FROM order_items WHERE order_id = " + id);
    } else if (i % 10 == 2) {
      tx.exec("DELETE FROM customer_orders WHERE order_id = " + id);
    } else if (i % 10 == 3) {
      tx.exec("UPDATE customer_orders SET total_cents = 0, status = 'Shipped' WHERE order_id = " +
              id);
    }
  }
  tx.commit();
  return deleted;
}

std::vector<Acked> seed(Stack& s, int n, const std::string& prefix) {
  auto w = s.write_client();
  std::vector<Acked> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(make_order(w, prefix + "-" + std::to_string(i), "cust-" + std::to_string(i % 7),
                             1 + i % 3, i % 2 == 0));
  }
  return out;
}

TEST(RebuildE2E, DamagedReadModelIsRebuiltWhileQueriesKeepBeingServed) {
  Stack s("rebuild_e2e_damaged");
  const auto acked = seed(s, 60, "dmg");
  auto rc = s.read_client();
  expect_read_side_has(rc, acked);
  pqxx::connection c(s.db_url());
  expect_tables_equal_fold(c);

  const auto deleted = damage(c, acked);
  std::vector<Acked> existing;
  for (const auto& a : acked) {
    if (!deleted.count(a.order_id)) existing.push_back(a);
  }

  // Query loop: orders that exist in the (damaged) read model, customers, lists, projections.
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> queries{0};
  std::atomic<bool> saw_rebuilding{false};
  std::mutex mu;
  std::vector<std::string> failures;
  auto loop = [&](int seed) {
    HttpClient r = s.read_client();
    r.set_timeout(10s);
    std::mt19937 rng(static_cast<unsigned>(seed));
    while (!stop) {
      const auto& a = existing[rng() % existing.size()];
      std::string target;
      switch (rng() % 4) {
        case 0:
        case 1:
          target = "/orders/" + a.order_id;
          break;
        case 2:
          target = "/customers/" + a.customer_id;
          break;
        default:
          target = "/orders?customer_id=" + a.customer_id + "&limit=5";
          break;
      }
      auto res = r.get(target);
      if (res.status != 200) {
        std::lock_guard lock(mu);
        failures.push_back(target + " -> " + std::to_string(res.status) + " " + res.body);
      }
      auto p = r.get("/projections");
      if (p.status != 200) {
        std::lock_guard lock(mu);
        failures.push_back("/projections -> " + std::to_string(p.status) + " " + p.body);
      } else if (p.body.find("rebuilding") != std::string::npos) {
        saw_rebuilding = true;
      }
      queries += 2;
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) threads.emplace_back(loop, i + 1);
  ASSERT_TRUE(testing::wait_until([&] { return queries.load() > 20; }, 10s));

  const auto before = queries.load();
  auto [code, out] = s.rebuild({"--all"});
  const auto during = queries.load() - before;
  // A few more queries against the swapped-in tables.
  ASSERT_TRUE(testing::wait_until([&] { return queries.load() > before + during + 30; }, 10s));
  stop = true;
  for (auto& t : threads) t.join();

  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("DIFFERENT"), std::string::npos) << out;
  EXPECT_NE(out.find("swapped in"), std::string::npos) << out;
  EXPECT_GT(during, 0) << "no query ran during the rebuild";
  EXPECT_TRUE(failures.empty()) << failures.size()
                                << " failed queries, first: " << failures.front();
  std::cout << "queries during the rebuild: " << during
            << ", saw state rebuilding: " << saw_rebuilding << "\n"
            << out;

  // Deleted orders are back, every order at its version; tables equal a fresh fold.
  expect_read_side_has(rc, acked);
  expect_tables_equal_fold(c);
  auto p = rc.get("/projections");
  ASSERT_EQ(p.status, 200);
  EXPECT_EQ(p.body.find("rebuilding"), std::string::npos) << p.body;
}

TEST(RebuildE2E, RebuildRacingLiveWritesLosesNone) {
  Stack s("rebuild_e2e_race");
  auto acked = seed(s, 20, "pre");
  std::mutex mu;
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::vector<std::string> errors;
  auto writer = [&](int n) {
    HttpClient w = s.write_client();
    for (int i = 0; !stop; ++i) {
      try {
        auto a = make_order(w, "race-" + std::to_string(n) + "-" + std::to_string(i),
                            "cust-" + std::to_string(i % 5), 2, i % 3 == 0);
        std::lock_guard lock(mu);
        acked.push_back(a);
        ++written;
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        errors.push_back(e.what());
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) threads.emplace_back(writer, i);
  ASSERT_TRUE(testing::wait_until([&] { return written.load() >= 5; }, 20s));
  const int before = written.load();
  auto [code, out] = s.rebuild({"--all"});
  const int during = written.load() - before;
  ASSERT_TRUE(testing::wait_until([&] { return written.load() >= before + during + 6; }, 20s));
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_EQ(code, 0) << out;
  ASSERT_TRUE(errors.empty()) << errors.front();
  std::cout << "orders written during the rebuild: " << during << "\n" << out;
  // The live projector was held by the cutover lock only for the tail and the orders changed
  // since the compare (measured by the rebuild, from the lock request to the commit).
  const auto held_at = out.find("projector held ");
  ASSERT_NE(held_at, std::string::npos) << out;
  EXPECT_LT(std::stod(out.substr(held_at + 15)), 3.0) << out;

  auto rc = s.read_client();
  expect_read_side_has(rc, acked);
  pqxx::connection c(s.db_url());
  expect_tables_equal_fold(c);
  // Checkpoints set coherently at the swap: the lag returns to 0 for both projections.
  std::string body;
  EXPECT_TRUE(testing::wait_until(
      [&] {
        auto p = rc.get("/projections");
        body = p.body;
        if (p.status != 200) return false;
        auto j = p.json();
        const auto& list = j.is_array() ? j : j.at("projections");
        for (const auto& e : list) {
          if (e.at("lag_events").get<std::int64_t>() != 0 || e.at("state") != "live") return false;
        }
        return list.size() == 2;
      },
      20s, 100ms))
      << body;
}

TEST(RebuildE2E, SecondConcurrentRebuildIsRefusedAndDryRunChangesNothing) {
  Stack s("rebuild_e2e_refuse");
  const auto acked = seed(s, 20, "ref");
  auto rc = s.read_client();
  expect_read_side_has(rc, acked);
  pqxx::connection c(s.db_url());
  expect_tables_equal_fold(c);
  damage(c, acked);
  const auto before = digest(c, "orders") + digest(c, "customer_orders");

  {
    // A rebuild of "orders" is running (it holds the run lock).
    pqxx::connection other(s.db_url());
    ASSERT_EQ(q1(other, "SELECT pg_try_advisory_lock(" +
                            std::to_string(read_side::kRebuildRunLockClass) + ", 0)"),
              "t");
    auto [code, out] = s.rebuild({"orders"});
    EXPECT_EQ(code, 75) << out;  // EX_TEMPFAIL
    EXPECT_NE(out.find("already running"), std::string::npos) << out;
    EXPECT_EQ(digest(c, "orders") + digest(c, "customer_orders"), before);
    // Unlock explicitly: after a disconnect the server releases the lock only when the backend
    // has exited, a moment later, and the dry run below would find it still held.
    ASSERT_EQ(q1(other, "SELECT pg_advisory_unlock(" +
                            std::to_string(read_side::kRebuildRunLockClass) + ", 0)"),
              "t");
  }

  auto [code, out] = s.rebuild({"--all", "--dry-run"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("DIFFERENT"), std::string::npos) << out;
  EXPECT_NE(out.find("dry run"), std::string::npos) << out;
  EXPECT_EQ(digest(c, "orders") + digest(c, "customer_orders"), before);
  EXPECT_EQ(q1(c,
               "SELECT count(*) FROM pg_class WHERE relname LIKE '%shadow%' AND relnamespace = "
               "'public'::regnamespace"),
            "0");

  auto [bad, usage] = s.rebuild({"no-such-projection"});
  EXPECT_EQ(bad, 64) << usage;
  EXPECT_NE(usage.find("orders"), std::string::npos) << usage;
  EXPECT_NE(usage.find("customers"), std::string::npos) << usage;
}

TEST(RebuildE2E, V1EventsInsertedWithSqlAreReadEverywhere) {
  Stack s("rebuild_e2e_v1");
  pqxx::connection c(s.db_url());
  // A legacy order: OrderCreated v1 and two OrderItemAdded v1 with a float "price" in dollars,
  // appended the way the write-side appends (events + outbox rows, one transaction).
  {
    pqxx::work tx(c);
    tx.exec(R"SQL(
      WITH ins AS (
        INSERT INTO events (event_id, stream_id, version, type, schema_version, data) VALUES
          (gen_random_uuid(), 'legacy-1', 1, 'OrderCreated', 1, '{"order_id":"legacy-1","customer_id":"old-cust"}'),
          (gen_random_uuid(), 'legacy-1', 2, 'OrderItemAdded', 1, '{"product_id":"lamp","quantity":2,"price":12.5}'),
          (gen_random_uuid(), 'legacy-1', 3, 'OrderItemAdded', 1, '{"product_id":"bulb","quantity":3,"price":0.29}')
        RETURNING position)
      INSERT INTO outbox (position) SELECT position FROM ins ORDER BY position)SQL");
    tx.commit();
  }
  auto w = s.write_client();
  auto rc = s.read_client();

  // Projector: the legacy events arrive through the bus and are upcast.
  auto got = rc.get("/orders/legacy-1?min_version=3&wait_ms=10000");
  ASSERT_EQ(got.status, 200) << got.body;
  auto o = got.json();
  EXPECT_EQ(o.at("items").at(0).at("price"), "12.50") << o.dump();
  EXPECT_EQ(o.at("items").at(1).at("price"), "0.29") << o.dump();
  EXPECT_EQ(o.at("total_amount"), "25.87") << o.dump();

  // Write-side state now and at version 2 (time travel).
  auto st = w.get("/orders/legacy-1/state");
  ASSERT_EQ(st.status, 200) << st.body;
  EXPECT_EQ(st.json().at("total_amount"), "25.87") << st.body;
  auto v2 = w.get("/orders/legacy-1/state?version=2");
  ASSERT_EQ(v2.status, 200) << v2.body;
  EXPECT_EQ(v2.json().at("items").size(), 1u) << v2.body;
  EXPECT_EQ(v2.json().at("items").at(0).at("price"), "12.50") << v2.body;
  EXPECT_EQ(v2.json().at("total_amount"), "25.00") << v2.body;

  // Audit trail: served upcast to the current schema, price in integer cents.
  auto ev = w.get("/orders/legacy-1/events");
  ASSERT_EQ(ev.status, 200) << ev.body;
  const auto events = ev.json().at("events");
  ASSERT_EQ(events.size(), 3u) << ev.body;
  EXPECT_EQ(events.at(1).at("schema_version"), 2) << ev.body;
  EXPECT_EQ(events.at(1).at("data").at("price_cents"), 1250) << ev.body;
  EXPECT_EQ(events.at(2).at("data").at("price_cents"), 29) << ev.body;

  // A new command loads the legacy stream: same product at the same price merges (a misread
  // price would be a 409 price mismatch), then confirm.
  auto add =
      w.post("/orders/legacy-1/items", R"({"product_id":"lamp","quantity":1,"price":"12.50"})");
  ASSERT_EQ(add.status, 200) << add.body;
  EXPECT_EQ(add.json().at("version"), 4);
  auto mismatch =
      w.post("/orders/legacy-1/items", R"({"product_id":"bulb","quantity":1,"price":"0.30"})");
  EXPECT_EQ(mismatch.status, 409) << mismatch.body;
  auto confirm = w.post("/orders/legacy-1/confirm", "");
  ASSERT_EQ(confirm.status, 200) << confirm.body;

  got = rc.get("/orders/legacy-1?min_version=5&wait_ms=10000");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json().at("items").at(0).at("quantity"), 3) << got.body;
  EXPECT_EQ(got.json().at("total_amount"), "38.37") << got.body;
  EXPECT_EQ(got.json().at("status"), "Confirmed") << got.body;
  auto cust = rc.get("/customers/old-cust");
  ASSERT_EQ(cust.status, 200) << cust.body;

  // Rebuild from the store (legacy events included): same answers, tables equal the fold.
  const auto before = got.body;
  auto [code, out] = s.rebuild({"--all"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("identical"), std::string::npos) << out;
  auto after = rc.get("/orders/legacy-1");
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.body, before);
  EXPECT_EQ(rc.get("/customers/old-cust").body, cust.body);
  expect_tables_equal_fold(c);
}

}  // namespace
}  // namespace orders::rebuild_test
