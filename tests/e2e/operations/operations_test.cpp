// The operator CLI against a whole stack (issue 14, item 5): write-side events / log [--follow],
// read-side projections, check on both binaries (each failure it must name: stream, relay leader,
// backlog, migrations, lag), and the metrics naming policy of both services' /metrics
// (issue 14, item 6): every family orders_* or process_*, conventional label names, no sentinel
// samples, every family documented in docs/operations.md.
#include <csignal>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/nats/connection.hpp"
#include "common/nats/stream_admin.hpp"
#include "tests/e2e/support/stack.hpp"

namespace orders::testing::e2e {
namespace {

using namespace std::chrono_literals;

struct CliRun {
  int code = -1;
  std::string output;  // stdout and stderr
};

class Operations : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StackOptions so;
    so.db_hint = "operations";
    stack_ = std::make_unique<Stack>(so);
  }
  static void TearDownTestSuite() { stack_.reset(); }
  void SetUp() override {
    // Each test starts from a healthy stack (a test may have stopped a piece of it).
    if (!stack_->nats().running()) stack_->nats().start();
    stack_->start_write();
    stack_->start_read(0);
  }

  static std::map<std::string, std::string> env() {
    auto e = stack_->write_env();
    e["LOG_LEVEL"] = "warn";
    return e;
  }
  static CliRun cli(const std::string& binary, const std::vector<std::string>& args) {
    Process p(binary, args, env());
    CliRun r;
    r.code = p.wait(60s).value_or(-1);
    r.output = p.log();
    return r;
  }
  static CliRun write_cli(const std::vector<std::string>& args) {
    return cli(write_side_binary(), args);
  }
  static CliRun read_cli(const std::vector<std::string>& args) {
    return cli(read_side_binary(), args);
  }
  static void create_order(const std::string& id) {
    HttpClient c("127.0.0.1", stack_->write_port());
    c.set_timeout(10s);
    ASSERT_EQ(c.post("/orders", R"({"order_id":")" + id + R"(","customer_id":"ops-c"})").status,
              201);
    ASSERT_EQ(
        c.post("/orders/" + id + "/items", R"({"product_id":"p-1","quantity":2,"price":"10.00"})")
            .status,
        200);
  }
  static bool has_line(const std::string& out, const std::string& prefix) {
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(prefix, 0) == 0) return true;
    return false;
  }
  static std::unique_ptr<Stack> stack_;
};
std::unique_ptr<Stack> Operations::stack_;

TEST_F(Operations, EventsPrintsAnOrdersEventsAndNamesAMissingOrder) {
  create_order("ops-events-1");
  auto text = write_cli({"events", "ops-events-1"});
  ASSERT_EQ(text.code, 0) << text.output;
  EXPECT_NE(text.output.find("order ops-events-1: 2 events"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("OrderCreated"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("OrderItemAdded"), std::string::npos) << text.output;

  auto json = write_cli({"events", "ops-events-1", "--from-version", "2", "--json"});
  ASSERT_EQ(json.code, 0) << json.output;
  const auto j = nlohmann::json::parse(json.output);
  ASSERT_EQ(j["events"].size(), 1u) << json.output;
  EXPECT_EQ(j["events"][0]["version"], 2);
  EXPECT_EQ(j["events"][0]["type"], "OrderItemAdded");
  EXPECT_EQ(j["events"][0]["order_id"], "ops-events-1");

  EXPECT_EQ(write_cli({"events", "ops-no-such-order"}).code, 66);  // EX_NOINPUT
  EXPECT_EQ(write_cli({"events", "bad id;DROP"}).code, 64);
  EXPECT_EQ(write_cli({"events", "ops-events-1", "--from-version", "zero"}).code, 64);
  EXPECT_EQ(write_cli({"events", "ops-events-1", "--frobnicate"}).code, 64);
  auto help = write_cli({"events", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.output.find("Usage: write-side events ORDER_ID"), std::string::npos);
}

TEST_F(Operations, LogIsDenseInOrderAndFollowStopsOnSigterm) {
  create_order("ops-log-1");
  ASSERT_TRUE(
      wait_until([] { return stack_->sql_int("SELECT count(*) FROM global_log") >= 2; }, 20s));
  const auto total = stack_->sql_int("SELECT count(*) FROM global_log");
  auto all = write_cli({"log", "--from-position", "1", "--limit", "100000", "--json"});
  ASSERT_EQ(all.code, 0) << all.output;
  std::istringstream lines(all.output);
  std::int64_t expect = 1;
  for (std::string line; std::getline(lines, line);) {
    const auto e = nlohmann::json::parse(line);
    EXPECT_EQ(e["global_position"], expect) << line;
    ++expect;
  }
  EXPECT_EQ(expect - 1, total);
  auto two = write_cli({"log", "--from-position", "2", "--limit", "1", "--json"});
  ASSERT_EQ(two.code, 0);
  EXPECT_EQ(nlohmann::json::parse(two.output)["global_position"], 2);

  // --follow prints what comes later, then exits 0 on SIGTERM.
  Process follow(write_side_binary(),
                 {"log", "--follow", "--from-position", std::to_string(total + 1)}, env());
  create_order("ops-log-followed");
  ASSERT_TRUE(
      wait_until([&] { return follow.log().find("ops-log-followed") != std::string::npos; }, 20s))
      << follow.log();
  EXPECT_TRUE(follow.running());
  follow.signal(SIGTERM);
  EXPECT_EQ(follow.wait(10s), 0) << follow.log();
  EXPECT_EQ(follow.log().find("ops-log-1 "), std::string::npos) << "printed before --from-position";
}

TEST_F(Operations, ChecksPassOnAHealthyStack) {
  ASSERT_TRUE(wait_until([] { return write_cli({"check"}).code == 0; }, 20s))
      << write_cli({"check"}).output;
  auto w = write_cli({"check"});
  for (const char* name : {"postgres", "migrations", "relay", "backlog", "stream"})
    EXPECT_TRUE(has_line(w.output, std::string("ok    ") + name)) << name << "\n" << w.output;
  auto r = read_cli({"check", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["checks"].size(), 6u) << r.output;  // the five and projections
  auto p = read_cli({"projections"});
  EXPECT_EQ(p.code, 0) << p.output;
  EXPECT_NE(p.output.find("orders"), std::string::npos) << p.output;
  EXPECT_NE(p.output.find("customers"), std::string::npos) << p.output;
}

TEST_F(Operations, ProjectionsExitOneWhenLagging) {
  stack_->kill_read(0);
  create_order("ops-lag-1");
  // The relay sequenced it, no replica applies it: the lag grows from 0.
  ASSERT_TRUE(wait_until(
      [] {
        auto r = read_cli({"projections", "--json"});
        return r.code == 0 &&
               nlohmann::json::parse(r.output)["projections"][0]["lag_events"].get<int>() > 0;
      },
      20s));
  auto late = read_cli({"projections", "--max-lag-seconds", "0"});
  EXPECT_EQ(late.code, 1) << late.output;
  EXPECT_NE(late.output.find("lagging more than 0 s"), std::string::npos) << late.output;
  auto check = read_cli({"check", "--max-lag-seconds", "0"});
  EXPECT_EQ(check.code, 1) << check.output;
  EXPECT_TRUE(has_line(check.output, "FAIL  projections")) << check.output;
  EXPECT_EQ(read_cli({"projections", "--max-lag-seconds", "-1"}).code, 64);
}

TEST_F(Operations, CheckNamesTheStreamAndBacklogWhenNatsIsDown) {
  stack_->nats().stop();
  create_order("ops-nats-down-1");  // sequenced into global_log, not published
  ASSERT_TRUE(wait_until(
      [] {
        return has_line(write_cli({"check", "--max-backlog", "0"}).output, "FAIL  backlog");
      },
      20s));
  auto r = write_cli({"check", "--max-backlog", "0"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has_line(r.output, "FAIL  stream")) << r.output;
  EXPECT_TRUE(has_line(r.output, "ok    postgres")) << r.output;
  EXPECT_NE(r.output.find("checks failed: backlog, stream"), std::string::npos) << r.output;
}

TEST_F(Operations, CheckNamesAStreamWithTheWrongDedupeWindow) {
  // No relay may put the stream's configuration back while the test changes it.
  stack_->kill_write();
  {
    auto conn = nats::Connection::connect(stack_->nats().url());
    nats::StreamAdmin admin(conn);
    nats::StreamSpec spec;
    spec.duplicate_window = 30s;
    admin.ensure_stream(spec);
  }
  auto r = read_cli({"check"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has_line(r.output, "FAIL  stream")) << r.output;
  EXPECT_NE(r.output.find("dedupe window 30 s, expected 120 s"), std::string::npos) << r.output;
  {
    auto conn = nats::Connection::connect(stack_->nats().url());
    nats::StreamAdmin admin(conn);
    admin.ensure_stream(nats::StreamSpec{});
  }
  EXPECT_TRUE(has_line(read_cli({"check"}).output, "ok    stream"));
}

TEST_F(Operations, CheckNamesAMissingRelayLeaderAndAnEditedMigration) {
  stack_->kill_write();
  // The lease (an advisory lock) is released once the killed leader's backend has exited.
  ASSERT_TRUE(wait_until([] { return has_line(read_cli({"check"}).output, "FAIL  relay"); }, 20s))
      << read_cli({"check"}).output;
  stack_->start_write();
  ASSERT_TRUE(wait_until([] { return write_cli({"check"}).code == 0; }, 20s));

  const auto saved = stack_->sql("SELECT checksum FROM schema_migrations WHERE version = 1");
  stack_->sql("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1");
  auto r = write_cli({"check"});
  stack_->sql("UPDATE schema_migrations SET checksum = '" +
              saved.substr(0, saved.find_last_not_of("\r\n") + 1) + "' WHERE version = 1");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has_line(r.output, "FAIL  migrations")) << r.output;
  EXPECT_NE(r.output.find("V001__event_store.sql"), std::string::npos) << r.output;
  EXPECT_EQ(write_cli({"check"}).code, 0);
}

// ---- metrics policy ----

std::string scrape(int port) {
  HttpClient c("127.0.0.1", port);
  c.set_timeout(10s);
  auto r = c.get("/metrics");
  EXPECT_EQ(r.status, 200);
  return r.body;
}

std::string read_source(const std::string& path) {
  std::ifstream in(std::string(ORDERS_SOURCE_DIR) + "/" + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Checks one exposition; returns its family names.
std::set<std::string> check_exposition(const std::string& text, const std::string& service) {
  const std::regex type_line(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
  const std::regex label_name(R"(([a-zA-Z_][a-zA-Z0-9_]*)=")");
  const std::regex conventional(R"(^[a-z][a-z0-9_]*$)");
  const std::set<std::string> banned = {"status", "status_code", "http_status"};
  std::set<std::string> families;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, type_line)) {
      const std::string name = m[1];
      families.insert(name);
      EXPECT_TRUE(name.rfind("orders_", 0) == 0 || name.rfind("process_", 0) == 0)
          << service << ": " << name;
      if (m[2] == "counter") {
        EXPECT_TRUE(name.size() > 6 && name.substr(name.size() - 6) == "_total") << name;
      }
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const auto brace = line.find('{');
    const std::string labels =
        brace == std::string::npos ? "" : line.substr(brace, line.rfind('}') - brace);
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label_name);
         it != std::sregex_iterator(); ++it) {
      const std::string l = (*it)[1];
      EXPECT_TRUE(std::regex_match(l, conventional)) << service << ": " << line;
      EXPECT_EQ(banned.count(l), 0u) << service << ": label " << l << " in " << line;
    }
    const std::string value = line.substr(line.rfind(' ') + 1);
    EXPECT_NE(value, "NaN") << service << ": " << line;
    EXPECT_NE(value, "-1") << service << ": sentinel? " << line;
  }
  return families;
}

TEST_F(Operations, EveryMetricFollowsTheNamingPolicyAndIsDocumented) {
  create_order("ops-metrics-1");
  HttpClient r("127.0.0.1", stack_->read_port(0));
  r.set_timeout(10s);
  ASSERT_EQ(r.get("/orders/ops-metrics-1?min_version=2&wait_ms=10000").status, 200);
  const auto write_text = scrape(stack_->write_port());
  const auto read_text = scrape(stack_->read_port(0));
  auto families = check_exposition(write_text, "write-side");
  for (const auto& f : check_exposition(read_text, "read-side")) families.insert(f);
  for (const auto* text : {&write_text, &read_text}) {
    for (const char* must :
         {"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ",
          "process_start_time_seconds ", "orders_build_info{version=\"",
          "orders_pg_pool_connections{pool=", "orders_pg_pool_waiting{pool=",
          "orders_pg_pool_acquire_seconds_count{", "orders_http_requests_total{method=\"GET\""}) {
      EXPECT_NE(text->find(must), std::string::npos) << must << "\n" << *text;
    }
  }
  EXPECT_NE(write_text.find(",code=\"201\"}"), std::string::npos) << write_text;
  const auto docs = read_source("docs/operations.md");
  for (const auto& f : families) {
    EXPECT_NE(docs.find("`" + f), std::string::npos) << f << " is not in docs/operations.md";
  }
}

}  // namespace
}  // namespace orders::testing::e2e
