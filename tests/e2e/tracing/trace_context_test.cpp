// Trace context end to end (docs/design.md, "Trace context"): a command sent with a known W3C
// traceparent has its trace id in the write-side's access and relay-publish lines, on the
// JetStream message (traceparent header, envelope metadata), in the read-side's apply lines (at
// LOG_LEVEL=debug) and in GET /orders/{id}/events; a malformed traceparent starts a new trace and
// is never a 400. Every published message passes the event schemas (api/events/).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nats/nats.h>

#include "common/nats/connection.hpp"
#include "common/nats/stream_admin.hpp"
#include "tests/e2e/support/stack.hpp"
#include "tests/support/nats_reader.hpp"

namespace orders::testing::e2e {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kCallerSpan = "00f067aa0ba902b7";
const std::string kTraceparent = std::string("00-") + kTrace + "-" + kCallerSpan + "-01";
const std::regex kTraceparentShape("00-([0-9a-f]{32})-([0-9a-f]{16})-01");

StackOptions debug_stack() {
  StackOptions so;
  so.db_hint = "tracing";
  so.write_env = {{"LOG_LEVEL", "debug"}};
  so.read_env = {{"LOG_LEVEL", "debug"}};  // the per-event apply lines are debug
  return so;
}

// The log lines (JSON) with message `msg` whose trace_id is `trace`.
std::size_t lines_with(const std::string& log, const std::string& msg, const std::string& trace) {
  std::istringstream in(log);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("msg", "") == msg && j.value("trace_id", "") == trace) ++n;
  }
  return n;
}

struct Sent {
  std::string request_id;
  std::string span_id;  // the write-side's span (from the echoed traceparent)
};

// Sends one command with the known traceparent; checks the echo.
Sent send(HttpClient& w, const std::string& method, const std::string& target,
          const std::string& body, int status) {
  auto r = w.request(method, target, body,
                     {{"traceparent", kTraceparent}, {"X-Correlation-Id", "checkout-42"}});
  EXPECT_EQ(r.status, status) << method << " " << target << ": " << r.body;
  std::smatch m;
  const std::string echoed = r.headers["traceparent"];
  EXPECT_TRUE(std::regex_match(echoed, m, kTraceparentShape)) << echoed;
  if (m.size() != 3) return {};
  EXPECT_EQ(m[1], kTrace) << "the caller's trace is continued";
  EXPECT_NE(m[2], kCallerSpan) << "the write-side opens a span of its own";
  return {r.headers["x-request-id"], m[2]};
}

// Every header of a received message.
json headers_of(const nats::Message& m) {
  json out = json::object();
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(m.raw(), &keys, &count) != NATS_OK) return out;
  for (int i = 0; i < count; ++i) out[keys[i]] = m.header(keys[i]).value_or("");
  std::free(static_cast<void*>(keys));
  return out;
}

// The validator's exit code over the messages (tests/support/validate_events.py).
int validate(const std::vector<json>& messages) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("trace_context_messages_" + std::to_string(::getpid()) + ".jsonl");
  {
    std::ofstream out(file);
    for (const auto& m : messages) out << m.dump() << "\n";
  }
  const std::string root = ORDERS_SOURCE_DIR;
  const std::string cmd = "python3 " + root + "/tests/support/validate_events.py " + root +
                          "/api/events " + file.string();
  const int rc = std::system(cmd.c_str());
  std::filesystem::remove(file);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(EndToEndTrace, AKnownTraceIdIsInEveryLogTheBusAndTheAuditTrail) {
  Stack stack(debug_stack());
  HttpClient w("127.0.0.1", stack.write_port());
  const std::string id = "traced-1";
  std::vector<Sent> sent;
  sent.push_back(
      send(w, "POST", "/orders", R"({"order_id":")" + id + R"(","customer_id":"c-1"})", 201));
  const std::string items = "/orders/" + id + "/items";
  sent.push_back(
      send(w, "POST", items, R"({"product_id":"p-1","quantity":2,"price":"3.50"})", 200));
  sent.push_back(send(w, "DELETE", items + "/p-1", "", 200));
  sent.push_back(
      send(w, "POST", items, R"({"product_id":"p-2","quantity":1,"price":"9.99"})", 200));
  sent.push_back(send(w, "POST", "/orders/" + id + "/confirm", "", 200));
  sent.push_back(send(w, "POST", "/orders/" + id + "/ship", R"({"tracking_number":"T-1"})", 200));
  sent.push_back(send(w, "POST", "/orders/" + id + "/deliver", "", 200));
  const std::size_t n = sent.size();

  // The audit trail: each event's metadata.
  auto events = w.get("/orders/" + id + "/events");
  ASSERT_EQ(events.status, 200) << events.body;
  const auto list = events.json()["events"];
  ASSERT_EQ(list.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& m = list[i]["metadata"];
    EXPECT_EQ(m.value("trace_id", ""), kTrace) << m;
    EXPECT_EQ(m.value("span_id", ""), sent[i].span_id) << m;
    EXPECT_EQ(m.value("traceparent", ""),
              "00-" + std::string(kTrace) + "-" + sent[i].span_id + "-01");
    EXPECT_EQ(m.value("correlation_id", ""), "checkout-42") << m;
    EXPECT_EQ(m.value("request_id", ""), sent[i].request_id) << m;
    EXPECT_EQ(m.value("causation_id", ""), sent[i].request_id) << "one event per command";
  }

  // The bus: every message carries the traceparent and the CloudEvents headers, and matches
  // the schemas.
  auto conn = nats::Connection::connect(stack.nats().url());
  nats::StreamAdmin admin(conn);
  ReaderSpec spec;
  NatsReader reader(admin, spec);
  std::vector<json> messages;
  std::set<std::string> spans_on_bus;
  ASSERT_TRUE(wait_until(
      [&] {
        for (auto& m : reader.fetch(100, 200ms)) {
          auto h = headers_of(m);
          const std::string tp = h.value("traceparent", "");
          std::smatch sm;
          if (std::regex_match(tp, sm, kTraceparentShape) && sm[1] == kTrace)
            spans_on_bus.insert(sm[2]);
          messages.push_back({{"headers", h}, {"body", std::string(m.data())}});
        }
        return messages.size() >= n;
      },
      20s))
      << "messages on the bus: " << messages.size();
  EXPECT_EQ(spans_on_bus.size(), n) << "each message carries its command's span";
  for (const auto& m : messages) {
    EXPECT_EQ(m["headers"].value("ce-subject", ""), id);
    EXPECT_EQ(json::parse(m["body"].get<std::string>())["metadata"].value("trace_id", ""), kTrace);
  }
  EXPECT_EQ(validate(messages), 0) << "the published messages match api/events/";

  // The read side applied them (debug apply lines carry the trace id).
  HttpClient r("127.0.0.1", stack.read_port());
  auto view = r.get("/orders/" + id + "?min_version=" + std::to_string(n) + "&wait_ms=20000");
  ASSERT_EQ(view.status, 200) << view.body;
  EXPECT_TRUE(
      wait_until([&] { return lines_with(stack.read_log(0), "event applied", kTrace) >= n; }, 10s))
      << log_tail(stack.read_log(0));

  // The write-side's access lines and relay-publish lines.
  EXPECT_TRUE(
      wait_until([&] { return lines_with(stack.write_log(), "request", kTrace) >= n; }, 10s))
      << log_tail(stack.write_log());
  EXPECT_GE(lines_with(stack.write_log(), "relay: publish", kTrace), n)
      << log_tail(stack.write_log());
}

TEST(EndToEndTrace, AMalformedOrMissingTraceparentStartsANewTraceNeverA400) {
  Stack stack(debug_stack());
  HttpClient w("127.0.0.1", stack.write_port());
  const std::vector<std::map<std::string, std::string>> cases = {
      {{"traceparent", "00-" + std::string(kTrace) + "-" + kCallerSpan}},  // flags missing
      {{"traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}},
      {{"traceparent", "not a traceparent; " + std::string(200, 'x')}},
      {}};
  std::set<std::string> traces;
  int i = 0;
  for (const auto& headers : cases) {
    const std::string id = "untraced-" + std::to_string(++i);
    auto r = w.post("/orders", R"({"order_id":")" + id + R"(","customer_id":"c-1"})", headers);
    ASSERT_EQ(r.status, 201) << r.body;
    std::smatch m;
    const std::string echoed = r.headers["traceparent"];
    ASSERT_TRUE(std::regex_match(echoed, m, kTraceparentShape)) << echoed;
    EXPECT_NE(m[1], kTrace);
    traces.insert(m[1]);
    auto events = w.get("/orders/" + id + "/events");
    ASSERT_EQ(events.status, 200);
    const json meta = events.json()["events"][0]["metadata"];
    EXPECT_EQ(meta.value("trace_id", ""), m[1]);
    EXPECT_EQ(meta.value("correlation_id", ""), m[1]) << "no X-Correlation-Id: the trace id";
  }
  EXPECT_EQ(traces.size(), cases.size()) << "each request starts its own trace";
  // Queries get a trace context too.
  auto q = w.get("/orders/untraced-1/events");
  EXPECT_TRUE(std::regex_match(q.headers["traceparent"], kTraceparentShape));
}

}  // namespace
}  // namespace orders::testing::e2e
