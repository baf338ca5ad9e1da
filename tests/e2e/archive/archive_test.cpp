// `write-side archive` end to end (issue 13, items 2 and 7): orders delivered "40 days ago" (their
// recorded_at moved back with SQL) are archived; afterwards every read answers exactly as before
// from the archive tier, a command gets the same 409, a rebuild produces the same read model, and
// the global log stays dense. A run killed with SIGKILL in the middle of a batch leaves each order
// wholly in one tier, and a rerun completes it with nothing lost or duplicated.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "tests/e2e/support/stack.hpp"
#include "tests/support/write_side_fixture.hpp"

namespace orders::testing::e2e {
namespace {

using namespace std::chrono_literals;

struct CliRun {
  int code = -1;
  std::string output;  // stdout and stderr
};

class Archive : public ::testing::Test {
 protected:
  void SetUp() override {
    StackOptions so;
    so.db_hint = "archive";
    // No cache: every command loads its order from the store (snapshot + events), so a command
    // after archiving reads the archive tier. Snapshots every 3 events.
    so.write_env = {{"CACHE_SIZE", "0"}, {"SNAPSHOT_EVERY", "3"}};
    stack_ = std::make_unique<Stack>(so);
  }

  CliRun run(const std::string& binary, const std::vector<std::string>& args,
             std::map<std::string, std::string> env) {
    env["LOG_LEVEL"] = "warn";
    Process p(binary, args, env);
    CliRun r;
    r.code = p.wait(90s).value_or(-1);
    r.output = p.log();
    return r;
  }
  CliRun write_cli(const std::vector<std::string>& args) {
    return run(write_side_binary(), args, stack_->write_env());
  }
  nlohmann::json archive(std::vector<std::string> args) {
    args.insert(args.begin(), "archive");
    args.push_back("--json");
    auto r = write_cli(args);
    EXPECT_EQ(r.code, 0) << r.output;
    const auto last = r.output.find_last_of('{');
    return nlohmann::json::parse(r.output.substr(last == std::string::npos ? 0 : last), nullptr,
                                 false);
  }
  void rebuild() {
    auto r = run(read_side_binary(), {"rebuild-projection", "--all"}, stack_->read_env(0));
    ASSERT_EQ(r.code, 0) << r.output;
  }

  // Every command of an order's life up to Delivered (or stop earlier); returns its version.
  int make_order(const std::string& id, int upto = 6) {
    HttpClient c("127.0.0.1", stack_->write_port());
    const std::vector<std::pair<std::string, std::string>> steps = {
        {"/orders", R"({"order_id":")" + id + R"(","customer_id":"arc-c"})"},
        {"/orders/" + id + "/items", R"({"product_id":"p-1","quantity":2,"price":"10.00"})"},
        {"/orders/" + id + "/items", R"({"product_id":"p-2","quantity":1,"price":"15.00"})"},
        {"/orders/" + id + "/confirm", ""},
        {"/orders/" + id + "/ship", R"({"tracking_number":"TRK-1"})"},
        {"/orders/" + id + "/deliver", ""}};
    for (int i = 0; i < upto; ++i) {
      auto r = c.post(steps[static_cast<std::size_t>(i)].first,
                      steps[static_cast<std::size_t>(i)].second);
      EXPECT_EQ(r.status / 100, 2) << steps[static_cast<std::size_t>(i)].first << " " << r.body;
    }
    return upto;
  }
  void wait_visible(const std::string& id, int version) {
    HttpClient c("127.0.0.1", stack_->read_port());
    ASSERT_EQ(c.get("/orders/" + id + "?min_version=" + std::to_string(version) + "&wait_ms=10000")
                  .status,
              200)
        << id;
  }

  // What the write side answers about an order: its trail, its state at each version and at the
  // time of its third event, and the CLI's view.
  std::map<std::string, std::string> views(const std::string& id, int versions) {
    HttpClient c("127.0.0.1", stack_->write_port());
    std::map<std::string, std::string> out;
    const auto trail = c.get("/orders/" + id + "/events");
    out["events"] = std::to_string(trail.status) + trail.body;
    out["events-page"] = c.get("/orders/" + id + "/events?from_version=2&limit=2").body;
    for (int v = 1; v <= versions; ++v) {
      const auto s = c.get("/orders/" + id + "/state?version=" + std::to_string(v));
      out["v" + std::to_string(v)] = std::to_string(s.status) + s.body;
    }
    const auto at =
        nlohmann::json::parse(trail.body)["events"][2]["recorded_at"].get<std::string>();
    const auto s = c.get("/orders/" + id + "/state?at=" + at);
    out["at"] = std::to_string(s.status) + s.body;
    out["state"] = c.get("/orders/" + id + "/state").body;
    out["cli"] = write_cli({"events", id, "--json"}).output;
    return out;
  }
  // A command's rejection without its instance (which names the request).
  std::string rejection(const std::string& id) {
    HttpClient c("127.0.0.1", stack_->write_port());
    auto r = c.post("/orders/" + id + "/confirm", "");
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object()) j.erase("instance");
    return std::to_string(r.status) + j.dump();
  }
  std::string read_model() {
    return stack_->sql(
        "SELECT (SELECT string_agg(o::text, '|' ORDER BY order_id) FROM orders o) || "
        "(SELECT string_agg(i::text, '|' ORDER BY order_id, product_id) FROM order_items i) || "
        "(SELECT string_agg(c::text, '|' ORDER BY order_id) FROM customer_orders c) || "
        "(SELECT string_agg(m::text, '|' ORDER BY order_id, product_id) FROM customer_order_items "
        "m)");
  }
  std::int64_t count(const std::string& q) { return stack_->sql_int(q); }
  // A shell pipeline's stdout without the trailing newline.
  static std::string shell(const std::string& command) {
    std::string out;
    std::unique_ptr<FILE, int (*)(FILE*)> p(popen(command.c_str(), "r"), pclose);
    if (!p) return out;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p.get()) != nullptr) out += buf;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  // The archive of 2020 (orders arc-y1..3, 18 events) exported to gzip NDJSON files with a
  // manifest, checked; a damaged or missing export makes archive-drop refuse. Returns the dir.
  template <class Drop>
  std::filesystem::path export_2020(const Drop& drop) {
    const auto dir =
        std::filesystem::temp_directory_path() /
        ("orders-export-" + std::to_string(::getpid()) + "-" + std::to_string(::time(nullptr)));
    std::filesystem::remove_all(dir);
    const auto exported = write_cli({"archive-export", "--year", "2020", "--out", dir.string(),
                                     "--events-per-file", "7", "--json"});
    EXPECT_EQ(exported.code, 0) << exported.output;
    if (exported.code != 0) return dir;
    auto ej = nlohmann::json::parse(exported.output.substr(exported.output.find_last_of('{')));
    EXPECT_EQ(ej["events"], 18) << ej;
    EXPECT_EQ(ej["files"], 3) << ej;
    EXPECT_EQ(write_cli({"archive-export", "--verify", dir.string()}).code, 0);
    EXPECT_EQ(
        shell("zcat " + dir.string() + "/events-2020-*.ndjson.gz | jq -r .event_id | paste -sd,"),
        stack_->sql("SELECT string_agg(event_id::text, ',' ORDER BY position) FROM all_events "
                    "WHERE stream_id IN ('arc-y1', 'arc-y2', 'arc-y3')"));
    const auto broken = dir.string() + "-broken";
    std::filesystem::copy(dir, broken);
    shell("printf 'x' | dd of=" + broken +
          "/events-2020-0002.ndjson.gz bs=1 seek=20 conv=notrunc 2>&1");
    EXPECT_EQ(write_cli({"archive-export", "--verify", broken}).code, 1);
    EXPECT_EQ(drop({"--year", "2020", "--require-export", broken}).code, 1);
    EXPECT_EQ(drop({"--year", "2020", "--require-export", dir.string() + "-missing"}).code, 1);
    EXPECT_EQ(count("SELECT count(*) FROM events_archive"), 24);  // nothing dropped
    std::filesystem::remove_all(broken);
    return dir;
  }

  std::unique_ptr<Stack> stack_;
};

TEST_F(Archive, RoundTripAnswersExactlyAsBeforeFromTheArchive) {
  const std::vector<std::string> delivered = {"arc-d1", "arc-d2", "arc-d3", "arc-d4"};
  for (const auto& id : delivered) make_order(id);
  make_order("arc-s1", 5);  // shipped, not delivered: stays hot
  make_order("arc-r1", 2);  // a draft: stays hot
  for (const auto& id : delivered) wait_visible(id, 6);
  wait_visible("arc-s1", 5);
  wait_visible("arc-r1", 2);
  stack_->sql("UPDATE events SET recorded_at = recorded_at - interval '40 days'");
  make_order("arc-n1");  // delivered just now: too young to archive
  wait_visible("arc-n1", 6);
  stack_->sql("DELETE FROM snapshots WHERE stream_id = 'arc-d1'");  // loads from events alone
  rebuild();  // the read model of the aged events
  const auto model = read_model();
  std::map<std::string, std::map<std::string, std::string>> before;
  std::map<std::string, std::string> refused;
  for (const auto& id : delivered) {
    before[id] = views(id, 6);
    refused[id] = rejection(id);
    EXPECT_EQ(refused[id].substr(0, 3), "409") << refused[id];
  }
  const auto log = write_cli({"log", "--limit", "100000", "--json"}).output;
  const auto hot = count("SELECT count(*) FROM events");

  auto dry = archive({"--older-than", "30d", "--dry-run"});
  EXPECT_EQ(dry["orders"], 4) << dry;
  EXPECT_EQ(dry["events"], 24) << dry;
  EXPECT_EQ(count("SELECT count(*) FROM events_archive"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM events"), hot);

  auto moved = archive({"--older-than", "30d", "--batch-orders", "3"});
  EXPECT_EQ(moved["orders"], 4) << moved;
  EXPECT_EQ(moved["events"], 24) << moved;
  EXPECT_EQ(moved["complete"], true) << moved;
  EXPECT_GT(moved["row_bytes"].get<std::int64_t>(), 0) << moved;
  EXPECT_EQ(count("SELECT count(*) FROM events_archive"), 24);
  EXPECT_EQ(count("SELECT count(*) FROM events"), hot - 24);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE stream_id LIKE 'arc-d%'"), 0);

  for (const auto& id : delivered) {
    const auto after = views(id, 6);
    for (const auto& [k, v] : before[id]) EXPECT_EQ(after.at(k), v) << id << " " << k;
    EXPECT_EQ(rejection(id), refused[id]) << id;
  }
  EXPECT_EQ(write_cli({"log", "--limit", "100000", "--json"}).output, log);
  EXPECT_EQ(count("SELECT max(global_position) - count(*) FROM global_log"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM global_log g JOIN all_events e USING (position)"),
            count("SELECT count(*) FROM global_log"));
  rebuild();
  EXPECT_EQ(read_model(), model);

  auto again = archive({"--older-than", "30d", "--compact"});
  EXPECT_EQ(again["orders"], 0) << again;                                   // idempotent
  EXPECT_LT(again["hot_bytes_after"], again["hot_bytes_before"]) << again;  // rewritten smaller
  HttpClient c("127.0.0.1", stack_->write_port());
  EXPECT_EQ(c.post("/orders/arc-s1/deliver", "").status, 200);  // the hot orders live on
  EXPECT_ANY_THROW(stack_->sql(
      "INSERT INTO events (event_id, stream_id, version, type, schema_version, data) VALUES "
      "(gen_random_uuid(), 'arc-d2', 6, 'OrderDelivered', 1, '{}')"));  // unique across tiers
}

// A second write-side that cached two orders while Shipped, before another one delivered them and
// they were archived: its stale state must not append a version the archive has (the database
// refuses it, the command is re-run on fresh state) nor answer a rejection from the stale state.
TEST_F(Archive, AStaleCacheOfArchivedOrdersGetsTheFreshAnswer) {
  make_order("arc-c1", 5);
  make_order("arc-c2", 5);
  auto other = ws::WriteSide::start(stack_->db_url(), {{"CACHE_SIZE", "1000"}});
  auto cached = other->client();
  EXPECT_EQ(cached.post("/orders/arc-c1/confirm", "").status, 409);  // loads both into its cache
  EXPECT_EQ(cached.post("/orders/arc-c2/confirm", "").status, 409);
  HttpClient c("127.0.0.1", stack_->write_port());
  ASSERT_EQ(c.post("/orders/arc-c1/deliver", "").status, 200);
  ASSERT_EQ(c.post("/orders/arc-c2/deliver", "").status, 200);
  const auto fresh = rejection("arc-c2");
  stack_->sql("UPDATE events SET recorded_at = recorded_at - interval '40 days'");
  ASSERT_EQ(archive({"--older-than", "30d"})["orders"], 2);

  const auto deliver = cached.post("/orders/arc-c1/deliver", "");
  EXPECT_EQ(deliver.status, 409) << deliver.body;  // not 503, not 200 with a second version 6
  EXPECT_NE(deliver.body.find("order-not-shipped"), std::string::npos) << deliver.body;
  EXPECT_EQ(count("SELECT count(*) FROM all_events WHERE stream_id = 'arc-c1'"), 6);
  auto confirm = cached.post("/orders/arc-c2/confirm", "");
  auto j = nlohmann::json::parse(confirm.body, nullptr, false);
  if (j.is_object()) j.erase("instance");
  EXPECT_EQ(std::to_string(confirm.status) + j.dump(), fresh);  // "Delivered", not "Shipped"
}

TEST_F(Archive, KilledMidBatchThenRerunLosesNothingAndDuplicatesNothing) {
  constexpr int kOrders = 24;
  for (int i = 1; i <= kOrders; ++i) make_order("arc-k" + std::to_string(i));
  stack_->sql("UPDATE events SET recorded_at = recorded_at - interval '40 days'");
  const auto total = count("SELECT count(*) FROM events");
  const auto archived_orders = [&] {
    return count("SELECT count(DISTINCT stream_id) FROM events_archive");
  };
  const auto split_orders = [&] {  // orders with events in both tiers: must never exist
    return count(
        "SELECT count(*) FROM (SELECT DISTINCT stream_id FROM events) h "
        "JOIN (SELECT DISTINCT stream_id FROM events_archive) a USING (stream_id)");
  };

  auto part = archive({"--older-than", "30d", "--batch-orders", "4", "--max-batches", "2"});
  EXPECT_EQ(part["orders"], 8) << part;
  EXPECT_EQ(part["complete"], false) << part;
  EXPECT_EQ(archived_orders(), 8);

  // Hold the row locks of the 7th order still to archive: the run (one order per batch) commits
  // six batches, then blocks inside the seventh's DELETE, where it is killed.
  const auto blocker = stack_->sql(
      "SELECT stream_id FROM events WHERE type = 'OrderDelivered' ORDER BY position OFFSET 6 LIMIT "
      "1");
  pqxx::connection lock_conn(stack_->db_url());
  pqxx::work lock(lock_conn);
  lock.exec("SELECT 1 FROM events WHERE stream_id = " + lock.quote(blocker) + " FOR UPDATE");
  auto env = stack_->write_env();
  env["LOG_LEVEL"] = "warn";
  Process run(write_side_binary(), {"archive", "--older-than", "30d", "--batch-orders", "1"}, env);
  ASSERT_TRUE(wait_until(
      [&] {
        return count(
                   "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   "AND query LIKE '%ws_archive_batch%' AND pid <> pg_backend_pid()") > 0;
      },
      30s))
      << run.log();
  EXPECT_EQ(archived_orders(), 14);
  EXPECT_EQ(write_cli({"archive", "--older-than", "30d"}).code, 75);  // one run at a time
  run.kill9();
  lock.abort();
  // The killed run's backend may still finish the statement it was blocked in, then notices its
  // client is gone and exits (releasing the archive lock); wait for that.
  ASSERT_TRUE(wait_until(
      [&] {
        return count(
                   "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%ws_archive_batch%' "
                   "AND pid <> pg_backend_pid()") == 0;
      },
      30s));
  EXPECT_EQ(split_orders(), 0);
  EXPECT_GE(archived_orders(), 14);
  EXPECT_LE(archived_orders(), 15);
  EXPECT_EQ(count("SELECT count(*) FROM all_events"), total);

  auto rest = archive({"--older-than", "30d"});
  EXPECT_EQ(rest["complete"], true) << rest;
  EXPECT_EQ(archived_orders(), kOrders);
  EXPECT_EQ(split_orders(), 0);
  EXPECT_EQ(count("SELECT count(*) FROM events"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM events_archive"), total);
  EXPECT_EQ(count("SELECT count(*) FROM (SELECT DISTINCT stream_id, version FROM all_events) x"),
            total);
  HttpClient c("127.0.0.1", stack_->write_port());
  EXPECT_EQ(c.get("/orders/arc-k7/events").json()["events"].size(), 6u);
}

// archive-export and archive-drop (issue 13, items 1 and 2): a past year's archive partition is
// exported to checksummed gzip files, then dropped, not deleted from.
// Orders archived "in 2020" (their rows moved into that year's partition with SQL, as the archive
// run of 2020 would have put them) lose their events but keep their last state: /state and the
// 409 of a command answer exactly as before, /events says the history was removed, the id stays
// taken, the global log keeps its positions, and orders of other years and hot ones are untouched.
TEST_F(Archive, DropYearRemovesTheHistoryByPartitionAndKeepsTheLastState) {
  const std::vector<std::string> old = {"arc-y1", "arc-y2", "arc-y3"};
  for (const auto& id : old) make_order(id);
  make_order("arc-y9");     // archived this year: kept
  make_order("arc-yh", 4);  // hot
  stack_->sql("UPDATE events SET recorded_at = recorded_at - interval '40 days'");
  ASSERT_EQ(archive({"--older-than", "30d"})["orders"], 4);
  stack_->sql(
      "SELECT ws_archive_partition('2020-06-01'); "
      "UPDATE events_archive SET archived_on = '2020-06-01' WHERE stream_id IN "
      "('arc-y1', 'arc-y2', 'arc-y3'); "
      "UPDATE archived_streams SET archived_on = '2020-06-01' WHERE stream_id IN "
      "('arc-y1', 'arc-y2', 'arc-y3'); "
      // their last states must come from archive-drop's final snapshots, not from these
      "DELETE FROM snapshots WHERE stream_id IN ('arc-y1', 'arc-y2', 'arc-y3')");
  HttpClient c("127.0.0.1", stack_->write_port());
  std::map<std::string, std::string> state, refused;
  for (const auto& id : old) {
    state[id] = c.get("/orders/" + id + "/state").body;
    refused[id] = rejection(id);
  }
  const auto kept = views("arc-y9", 6);
  const auto hot_trail = c.get("/orders/arc-yh/events").body;
  const auto log_rows = count("SELECT count(*) FROM global_log");

  const auto drop = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "archive-drop");
    return write_cli(args);
  };
  const int this_year = static_cast<int>(count("SELECT extract(year FROM current_date)::int"));
  for (const auto& args :
       std::vector<std::vector<std::string>>{{},
                                             {"--year", "20x0"},
                                             {"--year", "1800"},
                                             {"--year", std::to_string(this_year)},
                                             {"--year", "2020", "--frobnicate"}}) {
    EXPECT_EQ(drop(args).code, 64) << (args.empty() ? "no args" : args.back());
  }
  auto dry = drop({"--year", "2020", "--dry-run", "--json"});
  ASSERT_EQ(dry.code, 0) << dry.output;
  auto dj = nlohmann::json::parse(dry.output.substr(dry.output.find_last_of('{')));
  EXPECT_EQ(dj["orders"], 3) << dj;
  EXPECT_EQ(dj["events"], 18) << dj;
  EXPECT_GT(dj["bytes"].get<std::int64_t>(), 0) << dj;
  EXPECT_EQ(count("SELECT count(*) FROM events_archive"), 24);

  const auto dir = export_2020(drop);
  auto run =
      drop({"--year", "2020", "--json", "--batch-orders", "2", "--require-export", dir.string()});
  std::filesystem::remove_all(dir);
  ASSERT_EQ(run.code, 0) << run.output;
  auto rj = nlohmann::json::parse(run.output.substr(run.output.find_last_of('{')));
  EXPECT_EQ(rj["orders_dropped"], 3) << rj;
  EXPECT_EQ(rj["snapshots"], 3) << rj;
  EXPECT_EQ(count("SELECT count(*) FROM events_archive"), 6);  // arc-y9's
  EXPECT_EQ(stack_->sql("SELECT to_regclass('events_archive_y2020') IS NULL"), "t");

  for (const auto& id : old) {
    EXPECT_EQ(c.get("/orders/" + id + "/state").body, state[id]) << id;
    EXPECT_EQ(rejection(id), refused[id]) << id;
    const auto trail = c.get("/orders/" + id + "/events");
    EXPECT_EQ(trail.status, 404) << trail.body;
    EXPECT_NE(trail.body.find("removed with the archive of 2020"), std::string::npos) << trail.body;
    EXPECT_EQ(c.get("/orders/" + id + "/state?version=2").status, 404);
    const auto create =
        c.post("/orders", R"({"order_id":")" + id + R"(","customer_id":"someone-else"})");
    EXPECT_EQ(create.status, 409) << create.body;  // the id stays taken
  }
  EXPECT_EQ(
      count("SELECT count(*) FROM all_events WHERE stream_id IN ('arc-y1', 'arc-y2', 'arc-y3')"),
      0);
  for (const auto& [k, v] : views("arc-y9", 6)) EXPECT_EQ(kept.at(k), v) << "arc-y9 " << k;
  EXPECT_EQ(c.get("/orders/arc-yh/events").body, hot_trail);
  EXPECT_EQ(c.post("/orders/arc-yh/ship", R"({"tracking_number":"T-9"})").status, 200);
  EXPECT_EQ(count("SELECT count(*) FROM global_log"), log_rows + 1);

  auto again = drop({"--year", "2020", "--json"});  // idempotent: nothing left to drop
  ASSERT_EQ(again.code, 0) << again.output;
  auto aj = nlohmann::json::parse(again.output.substr(again.output.find_last_of('{')));
  EXPECT_EQ(aj["present"], false) << aj;
  EXPECT_EQ(aj["orders_dropped"], 0) << aj;
  rebuild();  // from what the store holds: the dropped orders leave the read model
  EXPECT_EQ(count("SELECT count(*) FROM orders WHERE order_id IN ('arc-y1', 'arc-y2', 'arc-y3')"),
            0);
  EXPECT_EQ(count("SELECT count(*) FROM orders WHERE order_id IN ('arc-y9', 'arc-yh')"), 2);
}

TEST_F(Archive, BadArgumentsExit64AndStoreNothing) {
  make_order("arc-b1");
  stack_->sql("UPDATE events SET recorded_at = recorded_at - interval '40 days'");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"archive"},
           {"archive", "--older-than", "30x"},
           {"archive", "--older-than", "0d"},
           {"archive", "--older-than", "-5d"},
           {"archive", "--older-than", "30d", "--batch-orders", "0"},
           {"archive", "--older-than", "30d", "--frobnicate"},
           {"archive-export"},
           {"archive-export", "--year", "2020"},
           {"archive-export", "--year", "twenty", "--out", "/tmp/x"},
           {"archive-export", "--verify", "/tmp", "--year", "2020"}}) {
    EXPECT_EQ(write_cli(args).code, 64) << args.back();
  }
  EXPECT_EQ(count("SELECT count(*) FROM events_archive"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM events"), 6);
  const auto help = write_cli({"archive", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.output.find("--older-than"), std::string::npos) << help.output;
}

}  // namespace
}  // namespace orders::testing::e2e
