// The HTTP contract end to end (issue 14): real responses of both services, every route's 2xx and
// problem responses, are recorded and validated against the OpenAPI documents the services serve
// (validate.py, python3-jsonschema); and the conventions: ETag "N" on commands, /state and the
// read side's order, If-Match "N" / W/"N", If-None-Match -> 304, a 201's Location that resolves,
// problem types that resolve, instance = the request id.
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/e2e/support/stack.hpp"

namespace orders::testing::e2e {
namespace {

using Headers = std::map<std::string, std::string>;

const std::string kCommand = "contract-command-token";
const std::string kQuery = "contract-query-token";
const std::string kAdmin = "contract-admin-token";

Headers bearer(const std::string& token, Headers extra = {}) {
  extra["Authorization"] = "Bearer " + token;
  return extra;
}

// Every response goes to a JSON-lines file for validate.py.
class Recorder {
 public:
  explicit Recorder(std::string path) : path_(std::move(path)), out_(path_) {}
  const std::string& path() const { return path_; }

  HttpResult call(HttpClient& c, const std::string& service, const std::string& method,
                  const std::string& target, const std::string& body = "",
                  const Headers& headers = {}) {
    auto r = c.request(method, target, body, headers);
    EXPECT_NE(r.status, 0) << method << " " << target;
    nlohmann::json line = {
        {"service", service}, {"method", method},     {"path", target.substr(0, target.find('?'))},
        {"status", r.status}, {"headers", r.headers}, {"body", r.body}};
    out_ << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    out_.flush();
    return r;
  }

 private:
  std::string path_;
  std::ofstream out_;
};

std::string run(const std::string& command, int* rc) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return "popen failed";
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  *rc = pclose(p);
  return out;
}

void expect_instance_is_request(const HttpResult& r) {
  ASSERT_GE(r.status, 400);
  EXPECT_EQ(r.json().value("instance", ""), "urn:request:" + r.headers.at("x-request-id"))
      << r.body;
}

class Contract : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StackOptions so;
    so.db_hint = "contract";
    so.write_env = {{"COMMAND_TOKEN", kCommand}, {"QUERY_TOKEN", kQuery}, {"ADMIN_TOKEN", kAdmin}};
    so.read_env = {{"QUERY_TOKEN", kQuery}, {"ADMIN_TOKEN", kAdmin}};
    stack_ = new Stack(so);
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  static Stack* stack_;
};
Stack* Contract::stack_ = nullptr;

TEST_F(Contract, ConditionalRequestsAndLocation) {
  HttpClient w("127.0.0.1", stack_->write_port());
  HttpClient r("127.0.0.1", stack_->read_port());
  auto created =
      w.post("/orders", R"({"order_id":"etag-1","customer_id":"c-etag"})", bearer(kCommand));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.headers.at("etag"), "\"1\"");
  // The Location resolves on the service that sent it: the order's state.
  const auto location = created.headers.at("location");
  auto at_location = w.request("GET", location, "", bearer(kQuery));
  ASSERT_EQ(at_location.status, 200) << location;
  EXPECT_EQ(at_location.json().at("order_id"), "etag-1");
  EXPECT_EQ(at_location.headers.at("etag"), "\"1\"");

  const std::string item = R"({"product_id":"p","quantity":1,"price":"1.00"})";
  auto strong = w.post("/orders/etag-1/items", item, bearer(kCommand, {{"If-Match", "\"1\""}}));
  ASSERT_EQ(strong.status, 200) << strong.body;
  EXPECT_EQ(strong.headers.at("etag"), "\"2\"");
  auto weak = w.post("/orders/etag-1/items", item, bearer(kCommand, {{"If-Match", "W/\"2\""}}));
  ASSERT_EQ(weak.status, 200) << weak.body;
  EXPECT_EQ(weak.headers.at("etag"), "\"3\"");
  auto stale = w.post("/orders/etag-1/items", item, bearer(kCommand, {{"If-Match", "W/\"2\""}}));
  EXPECT_EQ(stale.status, 412) << stale.body;
  expect_instance_is_request(stale);
  auto list =
      w.post("/orders/etag-1/items", item, bearer(kCommand, {{"If-Match", "\"3\", \"4\""}}));
  EXPECT_EQ(list.status, 400) << list.body;

  auto state = w.request("GET", "/orders/etag-1/state", "", bearer(kQuery));
  ASSERT_EQ(state.status, 200);
  EXPECT_EQ(state.headers.at("etag"), "\"3\"");
  auto same = w.request("GET", "/orders/etag-1/state", "",
                        bearer(kQuery, {{"If-None-Match", state.headers.at("etag")}}));
  EXPECT_EQ(same.status, 304);
  EXPECT_EQ(same.body, "");
  auto older = w.request("GET", "/orders/etag-1/state?version=2", "",
                         bearer(kQuery, {{"If-None-Match", "\"3\""}}));
  EXPECT_EQ(older.status, 200);
  EXPECT_EQ(older.headers.at("etag"), "\"2\"");

  auto view = r.request("GET", "/orders/etag-1?min_version=3&wait_ms=10000", "", bearer(kQuery));
  ASSERT_EQ(view.status, 200) << view.body;
  EXPECT_EQ(view.headers.at("etag"), "\"3\"");
  auto view_same =
      r.request("GET", "/orders/etag-1", "", bearer(kQuery, {{"If-None-Match", "W/\"3\""}}));
  EXPECT_EQ(view_same.status, 304);
  EXPECT_EQ(view_same.body, "");
  // A wait for a version the client names: a 304 once it is applied (nothing rendered), a 200
  // with the new ETag when the client holds an older one.
  ASSERT_EQ(w.post("/orders/etag-1/items", item, bearer(kCommand)).status, 200);
  auto waited = r.request("GET", "/orders/etag-1?min_version=4&wait_ms=10000", "",
                          bearer(kQuery, {{"If-None-Match", "\"4\""}}));
  EXPECT_EQ(waited.status, 304) << waited.body;
  EXPECT_EQ(waited.headers.at("etag"), "\"4\"");
  auto newer = r.request("GET", "/orders/etag-1?min_version=4&wait_ms=10000", "",
                         bearer(kQuery, {{"If-None-Match", "\"3\""}}));
  EXPECT_EQ(newer.status, 200) << newer.body;
  EXPECT_EQ(newer.headers.at("etag"), "\"4\"");
}

TEST_F(Contract, ProblemTypesResolveAndInstancesNameTheRequest) {
  HttpClient w("127.0.0.1", stack_->write_port());
  HttpClient r("127.0.0.1", stack_->read_port());
  auto missing = w.request("GET", "/orders/no-such-order/state", "",
                           bearer(kQuery, {{"X-Request-Id", "contract-rid-1"}}));
  ASSERT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json().at("instance"), "urn:request:contract-rid-1");
  const std::string type = missing.json().at("type");
  for (int port : {stack_->write_port(), stack_->read_port()}) {
    HttpClient c("127.0.0.1", port);
    auto page = c.get(type);  // relative to the service that sent it
    EXPECT_EQ(page.status, 200) << type;
    EXPECT_NE(page.body.find("order-not-found"), std::string::npos);
  }
  auto unauthorized = r.get("/customers/nobody");
  EXPECT_EQ(unauthorized.status, 401);
  expect_instance_is_request(unauthorized);

  // A replay by Idempotency-Key is the first response byte for byte, its instance included.
  const auto key = bearer(kCommand, {{"Idempotency-Key", "contract-key-1"}});
  auto first = w.post("/orders/no-such-order/confirm", "", key);
  ASSERT_EQ(first.status, 404);
  expect_instance_is_request(first);
  auto replay = w.post("/orders/no-such-order/confirm", "", key);
  EXPECT_EQ(replay.status, 404);
  EXPECT_EQ(replay.body, first.body);
}

const std::string kW = "write-side";
const std::string kR = "read-side";

// Each command's success, a rule broken, bad input, no token, wrong token, stale If-Match, a
// reused Idempotency-Key.
void exercise_commands(Recorder& rec, HttpClient& w) {
  const auto cmd = bearer(kCommand), query = bearer(kQuery);
  const std::string create = R"({"order_id":"oa-1","customer_id":"c-oa"})";
  ASSERT_EQ(rec.call(w, kW, "POST", "/orders", create, cmd).status, 201);
  rec.call(w, kW, "POST", "/orders", create, cmd);                         // 409
  rec.call(w, kW, "POST", "/orders", "{not json", cmd);                    // 400
  rec.call(w, kW, "POST", "/orders", R"({"customer_id":"c-oa"})");         // 401
  rec.call(w, kW, "POST", "/orders", R"({"customer_id":"c-oa"})", query);  // 403
  const std::string item = R"({"product_id":"p-1","quantity":2,"price":"10.00"})";
  ASSERT_EQ(rec.call(w, kW, "POST", "/orders/oa-1/items", item, cmd).status, 200);
  rec.call(w, kW, "POST", "/orders/oa-1/items", R"({"product_id":"p-1","quantity":1,"price":"9"})",
           cmd);  // 409
  rec.call(w, kW, "POST", "/orders/oa-1/items", item, bearer(kCommand, {{"If-Match", "\"1\""}}));
  rec.call(w, kW, "POST", "/orders/none/items", item, cmd);  // 404
  ASSERT_EQ(rec.call(w, kW, "POST", "/orders/oa-1/items",
                     R"({"product_id":"p-2","quantity":1,"price":15})", cmd)
                .status,
            200);
  ASSERT_EQ(rec.call(w, kW, "DELETE", "/orders/oa-1/items/p-2", "", cmd).status, 200);
  rec.call(w, kW, "DELETE", "/orders/oa-1/items/p-2", "", cmd);  // 404 item-not-in-order
  rec.call(w, kW, "POST", "/orders", R"({"order_id":"oa-empty","customer_id":"c-oa"})", cmd);
  rec.call(w, kW, "POST", "/orders/oa-empty/confirm", "", cmd);                      // 409
  rec.call(w, kW, "POST", "/orders/oa-1/ship", R"({"tracking_number":"T1"})", cmd);  // 409
  rec.call(w, kW, "POST", "/orders/oa-1/deliver", "", cmd);                          // 409
  ASSERT_EQ(rec.call(w, kW, "POST", "/orders/oa-1/confirm", "", cmd).status, 200);
  ASSERT_EQ(rec.call(w, kW, "POST", "/orders/oa-1/ship", R"({"tracking_number":"T1"})", cmd).status,
            200);
  ASSERT_EQ(rec.call(w, kW, "POST", "/orders/oa-1/deliver", "", cmd).status, 200);
  const auto keyed = bearer(kCommand, {{"Idempotency-Key", "oa-key"}});
  rec.call(w, kW, "POST", "/orders", R"({"customer_id":"c-oa"})", keyed);
  rec.call(w, kW, "POST", "/orders", R"({"customer_id":"c-other"})", keyed);  // 422
}

// The write side's queries (2xx, 304, 404, 400) and the read side's, after the write is visible.
void exercise_queries(Recorder& rec, HttpClient& w, HttpClient& r) {
  const auto query = bearer(kQuery);
  for (const std::string path : {"/orders/oa-1", "/orders/oa-1/state"}) {
    auto ok = rec.call(w, kW, "GET", path, "", query);
    ASSERT_EQ(ok.status, 200) << path;
    rec.call(w, kW, "GET", path, "", bearer(kQuery, {{"If-None-Match", ok.headers.at("etag")}}));
    rec.call(w, kW, "GET", path + "?version=99", "", query);  // 404
    rec.call(w, kW, "GET", path + "?version=x", "", query);   // 400
  }
  rec.call(w, kW, "GET", "/orders/oa-1/state?at=2020-01-01T00:00:00Z", "", query);  // 404
  rec.call(w, kW, "GET", "/orders/oa-1/events?from_version=2&limit=10", "", query);
  rec.call(w, kW, "GET", "/orders/none/events", "", query);          // 404
  rec.call(w, kW, "GET", "/orders/oa-1/events?limit=0", "", query);  // 400

  ASSERT_EQ(rec.call(r, kR, "GET", "/orders/oa-1?min_version=5&wait_ms=10000", "", query).status,
            200);
  auto view = rec.call(r, kR, "GET", "/orders/oa-1", "", query);
  rec.call(r, kR, "GET", "/orders/oa-1", "",
           bearer(kQuery, {{"If-None-Match", view.headers.at("etag")}}));
  rec.call(r, kR, "GET", "/orders/oa-1?min_version=99&wait_ms=0", "", query);  // 503
  rec.call(r, kR, "GET", "/orders/none", "", query);                           // 404
  rec.call(r, kR, "GET", "/orders/oa-1?wait_ms=x", "", query);                 // 400
  auto page = rec.call(r, kR, "GET", "/orders?customer_id=c-oa&limit=1", "", query);
  ASSERT_EQ(page.status, 200) << page.body;
  rec.call(r, kR, "GET", "/orders?limit=501", "", query);  // 400
  rec.call(r, kR, "GET", "/customers/c-oa", "", query);
  rec.call(r, kR, "GET", "/customers/nobody", "", query);  // 404
  rec.call(r, kR, "GET", "/projections", "", query);
  rec.call(r, kR, "GET", "/projections", "", bearer(kAdmin));  // 403
  // The global feed (oa-1's events are sequenced: the read side has them): a page, a long poll
  // that times out empty, an oversized limit.
  auto feed = rec.call(w, kW, "GET", "/events?after_position=0&limit=3", "", query);
  EXPECT_EQ(feed.json()["events"].size(), 3u) << feed.body;
  const auto head = feed.json().value("last_position", 0);
  auto idle = rec.call(
      w, kW, "GET", "/events?after_position=" + std::to_string(head) + "&wait_ms=300", "", query);
  // Empty after 300 ms, unless a late event was sequenced meanwhile: then it is the next one.
  if (idle.json()["events"].empty()) {
    EXPECT_EQ(idle.json().value("next_after_position", -1), head) << idle.body;
  } else {
    EXPECT_EQ(idle.json()["events"][0].value("global_position", 0), head + 1) << idle.body;
  }
  for (const std::string bad : {"limit=1001", "limit=0", "after_position=-1", "after_position=x",
                                "wait_ms=10001", "wait_ms=1e3"}) {
    EXPECT_EQ(rec.call(w, kW, "GET", "/events?" + bad, "", query).status, 400) << bad;
  }
}

// The routes both services have: health, metrics, the documents, the problem pages; a 431 for
// those that can fail no other way; a 405 and an unknown path.
void exercise_shared(Recorder& rec, HttpClient& c, const std::string& service) {
  const Headers big = {{"X-Big", std::string(std::size_t{20} * 1024, 'h')}};
  rec.call(c, service, "GET", "/healthz");
  rec.call(c, service, "GET", "/healthz", "", big);
  rec.call(c, service, "GET", "/readyz");
  rec.call(c, service, "GET", "/readyz", "", big);
  rec.call(c, service, "GET", "/metrics", "", bearer(kAdmin));
  rec.call(c, service, "GET", "/metrics");
  rec.call(c, service, "GET", "/openapi.json");
  rec.call(c, service, "GET", "/openapi.json", "", big);
  rec.call(c, service, "GET", "/problems/version-mismatch");
  rec.call(c, service, "GET", "/problems/no-such-type");
  rec.call(c, service, "PUT", "/healthz");
  rec.call(c, service, "GET", "/no/such/path");
  rec.call(c, service, "GET", "/ui?order=oa-1");
  rec.call(c, service, "GET", "/ui", "", big);
  rec.call(c, service, "GET", "/ui/console.js");
  rec.call(c, service, "GET", "/ui/console.css");
  rec.call(c, service, "GET", "/ui/config.json");
  rec.call(c, service, "GET", "/ui/no-such-file");  // 404
}

// The document a service serves, saved to a file, after checking it is the build's.
std::string served_document(HttpClient& c, const std::string& service, const std::string& dir) {
  auto doc = c.get("/openapi.json");
  EXPECT_EQ(doc.status, 200);
  EXPECT_EQ(doc.headers["content-type"], "application/json");
  std::string file = dir + "/contract_" + service + ".openapi.json";
  std::ofstream(file) << doc.body;
  std::ifstream built(std::string(OPENAPI_JSON_DIR) + "/" + service + ".openapi.json");
  EXPECT_TRUE(built);
  if (built) {
    EXPECT_EQ(nlohmann::json::parse(doc.body, nullptr, false), nlohmann::json::parse(built))
        << service << " serves another document than the build's";
  }
  return file;
}

// Every operation of both documents, a 2xx and a problem each, validated by validate.py against
// the documents as the services serve them.
TEST_F(Contract, RealResponsesMatchTheServedDocuments) {
  const std::string dir = ::testing::TempDir();
  Recorder rec(dir + "/contract_exchanges.jsonl");
  HttpClient w("127.0.0.1", stack_->write_port());
  HttpClient r("127.0.0.1", stack_->read_port());
  exercise_commands(rec, w);
  exercise_queries(rec, w, r);
  exercise_shared(rec, w, kW);
  exercise_shared(rec, r, kR);
  if (HasFatalFailure()) return;

  const std::string specs = " --spec " + kW + "=" + served_document(w, kW, dir) + " --spec " + kR +
                            "=" + served_document(r, kR, dir);
  int rc = 0;
  const auto out =
      run(std::string(PYTHON3) + " " + VALIDATE_PY + specs + " --coverage " + rec.path(), &rc);
  EXPECT_EQ(rc, 0) << out;
  std::cout << out;
}

}  // namespace
}  // namespace orders::testing::e2e
