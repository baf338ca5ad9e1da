// Hostile input (guarantee 6), table-driven over every write-side and read-side endpoint:
// malformed / truncated JSON, wrong types, huge and negative numbers, 2^63, NaN-like strings, bad
// UTF-8, NUL bytes, very long ids (body and URL), deep nesting, duplicate keys, bad query values,
// oversized bodies (413) and heads (431), slow clients, unknown methods (405) and paths (404).
// Each case must get the right 4xx as application/problem+json {type,title,status,detail}, store
// nothing (events count unchanged) and leave the service answering. Also the CLI: bad subcommand
// arguments and bad settings exit non-zero with a message, never a crash.
#include <future>
#include <regex>

#include <gtest/gtest.h>

#include "tests/e2e/support/stack.hpp"

namespace orders::testing::e2e {
namespace {

using namespace std::chrono_literals;
using Headers = std::map<std::string, std::string>;

enum class Svc { Write, Read };

struct Case {
  Case(std::string n, Svc s, std::string m, std::string t, std::string b, int st, Headers h = {})
      : name(std::move(n)),
        svc(s),
        method(std::move(m)),
        target(std::move(t)),
        body(std::move(b)),
        status(st),
        headers(std::move(h)) {}
  std::string name;
  Svc svc;
  std::string method;
  std::string target;
  std::string body;
  int status;
  Headers headers;
};

constexpr const char* kOrder = "h-order";  // exists, Draft, one item p-1

// A string literal with embedded NUL bytes, whole.
template <std::size_t N>
std::string with_nul(const char (&s)[N]) {
  return std::string(s, N - 1);
}

class Hostile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StackOptions so;
    so.db_hint = "hostile";
    stack_ = std::make_unique<Stack>(so);
    HttpClient w("127.0.0.1", stack_->write_port());
    auto r = w.post("/orders", R"({"order_id":"h-order","customer_id":"h-cust"})");
    ASSERT_EQ(r.status, 201) << r.body;
    r = w.post("/orders/h-order/items", R"({"product_id":"p-1","quantity":1,"price":"1.00"})");
    ASSERT_EQ(r.status, 200) << r.body;
    HttpClient rd("127.0.0.1", stack_->read_port());
    ASSERT_EQ(rd.get("/orders/h-order?min_version=2&wait_ms=10000").status, 200);
  }
  static void TearDownTestSuite() { stack_.reset(); }

  static int port(Svc s) { return s == Svc::Write ? stack_->write_port() : stack_->read_port(); }

  // Runs one case on a fresh connection and checks status, problem shape, nothing stored and the
  // service still answering.
  static void run(const Case& c) {
    SCOPED_TRACE(c.name + ": " + c.method + " " + c.target.substr(0, 120));
    const auto before = stack_->events_count();
    HttpClient client("127.0.0.1", port(c.svc));
    client.set_timeout(15s);
    auto r = client.request(c.method, c.target, c.body, c.headers);
    std::string why;
    EXPECT_TRUE(is_problem(r, c.status, &why)) << why;
    if (c.status == 405) {
      EXPECT_EQ(r.headers.count("allow"), 1u) << "405 without an Allow header";
    }
    EXPECT_EQ(stack_->events_count(), before) << "a 4xx request stored events";
    HttpClient probe("127.0.0.1", port(c.svc));
    probe.set_timeout(5s);
    EXPECT_EQ(probe.get("/healthz").status, 200) << "the service stopped answering";
  }

  static std::unique_ptr<Stack> stack_;
};
std::unique_ptr<Stack> Hostile::stack_;

// ---- bodies --------------------------------------------------------------------------------

// Bodies no endpoint may accept: not JSON, not an object, broken encoding, too deep.
std::vector<std::pair<std::string, std::string>> malformed_bodies() {
  std::string nul_raw("{\"customer_id\":\"a\0b\"}", 21);
  std::string deep = "{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  std::string deep17 = "{\"customer_id\":\"c\",\"x\":";
  for (int i = 0; i < 17; ++i) deep17 += "{\"y\":";
  deep17 += "1" + std::string(17, '}') + "}";
  return {
      {"truncated object", "{"},
      {"truncated after key", "{\"customer_id\":"},
      {"truncated string", "{\"customer_id\":\"c"},
      {"unclosed object", "{\"customer_id\":\"c\""},
      {"array", "[]"},
      {"null", "null"},
      {"boolean", "true"},
      {"string", "\"x\""},
      {"number", "42"},
      {"trailing garbage", "{\"customer_id\":\"c\"}garbage"},
      {"two documents", "{}{}"},
      {"extra brace", "{}}"},
      {"single quotes", "{'customer_id':'c'}"},
      {"trailing comma", "{\"customer_id\":\"c\",}"},
      {"comment", "{/* x */\"customer_id\":\"c\"}"},
      {"binary garbage", "\xff\xfe\xfd\x00\x01"},
      {"bad UTF-8 in a string", "{\"customer_id\":\"c\xc3\x28\"}"},
      {"UTF-8 encoded surrogate", "{\"customer_id\":\"c\xed\xa0\x80\"}"},
      {"overlong UTF-8", "{\"customer_id\":\"c\xc0\xaf\"}"},
      {"lone surrogate escape", "{\"customer_id\":\"\\ud800\"}"},
      {"raw NUL byte in a string", nul_raw},
      {"NUL byte before the object", std::string("\0{}", 3)},
      {"deep nesting 100000", deep},
      {"nesting deeper than 16", deep17},
      {"UTF-16 BOM", "\xfe\xff{}"},
  };
}

TEST_F(Hostile, MalformedBodiesOnEveryCommandEndpoint) {
  const std::string o = std::string("/orders/") + kOrder;
  for (const auto& [what, body] : malformed_bodies()) {
    for (const auto& target :
         {std::string("/orders"), o + "/items", o + "/confirm", o + "/ship", o + "/deliver"}) {
      run({what, Svc::Write, "POST", target, body, 400});
    }
  }
}

TEST_F(Hostile, WrongTypesAndValuesInCommandFields) {
  const std::string items = std::string("/orders/") + kOrder + "/items";
  const std::string ship = std::string("/orders/") + kOrder + "/ship";
  const std::string long129 = repeat('a', 129);
  const std::string long100k = repeat('a', 100000);
  std::vector<Case> cases;
  auto create = [&](const std::string& name, const std::string& body) {
    cases.push_back({"create: " + name, Svc::Write, "POST", "/orders", body, 400});
  };
  create("no customer_id", "{}");
  create("customer_id number", R"({"customer_id":123})");
  create("customer_id null", R"({"customer_id":null})");
  create("customer_id array", R"({"customer_id":["c"]})");
  create("customer_id object", R"({"customer_id":{"a":1}})");
  create("customer_id empty", R"({"customer_id":""})");
  create("customer_id 129 chars", R"({"customer_id":")" + long129 + "\"}");
  create("customer_id 100k chars", R"({"customer_id":")" + long100k + "\"}");
  create("customer_id with space", R"({"customer_id":"a b"})");
  create("customer_id with slash", R"({"customer_id":"a/b"})");
  create("customer_id non-ASCII", "{\"customer_id\":\"\xc3\xa4\"}");
  create("customer_id escaped NUL", R"({"customer_id":"a\u0000b"})");
  create("customer_id newline", R"({"customer_id":"a\nb"})");
  create("order_id number", R"({"order_id":5,"customer_id":"c"})");
  create("order_id bad chars", R"({"order_id":"x;DROP TABLE events","customer_id":"c"})");
  create("order_id 129 chars", R"({"order_id":")" + long129 + R"(","customer_id":"c"})");
  create("duplicate keys", R"({"customer_id":"a","customer_id":"b"})");
  create("duplicate order_id keys", R"({"order_id":"d1","order_id":"d2","customer_id":"c"})");

  auto add = [&](const std::string& name, const std::string& quantity, const std::string& price,
                 const std::string& product = "\"p-9\"") {
    std::string body = "{";
    bool first = true;
    auto field = [&](const char* k, const std::string& v) {
      if (v.empty()) return;
      body += (first ? "\"" : ",\"") + std::string(k) + "\":" + v;
      first = false;
    };
    field("product_id", product);
    field("quantity", quantity);
    field("price", price);
    body += "}";
    cases.push_back({"add: " + name, Svc::Write, "POST", items, body, 400});
  };
  // quantity: a JSON integer from 1 to 1,000,000
  add("quantity string", "\"5\"", "1");
  add("quantity fraction", "1.5", "1");
  add("quantity bool", "true", "1");
  add("quantity null", "null", "1");
  add("quantity array", "[1]", "1");
  add("quantity 0", "0", "1");
  add("quantity -1", "-1", "1");
  add("quantity 1000001", "1000001", "1");
  add("quantity 2^31", "2147483648", "1");
  add("quantity 2^63", "9223372036854775808", "1");
  add("quantity 2^63-1", "9223372036854775807", "1");
  add("quantity -2^63", "-9223372036854775808", "1");
  add("quantity -2^63-1", "-9223372036854775809", "1");
  add("quantity 2^64", "18446744073709551616", "1");
  add("quantity 1e400", "1e400", "1");
  add("quantity -1e400", "-1e400", "1");
  add("quantity huge digits", repeat('9', 5000), "1");
  add("quantity missing", "", "1");
  // price: number or decimal string, >= 0, <= 1,000,000.00, at most 2 decimals by value
  add("price NaN string", "1", "\"NaN\"");
  add("price nan string", "1", "\"nan\"");
  add("price Infinity string", "1", "\"Infinity\"");
  add("price -Infinity string", "1", "\"-Infinity\"");
  add("price inf string", "1", "\"inf\"");
  add("price exponent string", "1", "\"1e3\"");
  add("price hex string", "1", "\"0x10\"");
  add("price 3 decimals", "1", "10.001");
  add("price 3 decimals string", "1", "\"10.001\"");
  add("price negative", "1", "-0.01");
  add("price negative string", "1", "\"-1\"");
  add("price above max", "1", "1000000.01");
  add("price above max string", "1", "\"1000000.01\"");
  add("price 2^63", "1", "9223372036854775808");
  add("price 2^63 string", "1", "\"9223372036854775808\"");
  add("price 1e400", "1", "1e400");
  add("price huge digits string", "1", "\"" + repeat('9', 5000) + "\"");
  add("price empty string", "1", "\"\"");
  add("price spaces", "1", "\" 10\"");
  add("price two dots", "1", "\"10.00.0\"");
  add("price plus sign", "1", "\"+10\"");
  add("price arabic digits", "1", "\"\xd9\xa1\xd9\xa0\"");
  add("price array", "1", "[1]");
  add("price object", "1", "{\"amount\":1}");
  add("price bool", "1", "true");
  add("price null", "1", "null");
  add("price missing", "1", "");
  add("product_id number", "1", "1", "7");
  add("product_id empty", "1", "1", "\"\"");
  add("product_id 129 chars", "1", "1", "\"" + long129 + "\"");
  add("product_id space", "1", "1", "\"a b\"");
  add("product_id missing", "1", "1", "");

  auto shipc = [&](const std::string& name, const std::string& body) {
    cases.push_back({"ship: " + name, Svc::Write, "POST", ship, body, 400});
  };
  shipc("no tracking_number", "{}");
  shipc("tracking_number number", R"({"tracking_number":42})");
  shipc("tracking_number empty", R"({"tracking_number":""})");
  shipc("tracking_number 129 chars", R"({"tracking_number":")" + long129 + "\"}");
  shipc("tracking_number newline", R"({"tracking_number":"a\nb"})");
  shipc("duplicate keys", R"({"tracking_number":"a","tracking_number":"b"})");

  for (const auto& c : cases) run(c);
}

TEST_F(Hostile, BadIdsAndQueryValuesInUrls) {
  const std::string o = std::string("/orders/") + kOrder;
  const std::string l129 = repeat('a', 129);
  const std::string l10k = repeat('a', 10000);
  std::vector<Case> cases;
  // Ids in the path, on every endpoint that takes one.
  for (const auto& bad :
       {l129, l10k, std::string("a%20b"), std::string("a%2Fb"), std::string("%C3%28"),
        std::string("%00"), std::string("a%00b"), std::string("%zz"), std::string("a%"),
        std::string("%C3%A4"), std::string("a;b"), std::string("a'b")}) {
    const std::string p = "/orders/" + bad;
    cases.push_back({"add, bad id", Svc::Write, "POST", p + "/items",
                     R"({"product_id":"p","quantity":1,"price":1})", 400});
    cases.push_back({"confirm, bad id", Svc::Write, "POST", p + "/confirm", "", 400});
    cases.push_back(
        {"ship, bad id", Svc::Write, "POST", p + "/ship", R"({"tracking_number":"t"})", 400});
    cases.push_back({"deliver, bad id", Svc::Write, "POST", p + "/deliver", "", 400});
    cases.push_back({"remove, bad order id", Svc::Write, "DELETE", p + "/items/p-1", "", 400});
    cases.push_back({"remove, bad product id", Svc::Write, "DELETE", o + "/items/" + bad, "", 400});
    cases.push_back({"events, bad id", Svc::Write, "GET", p + "/events", "", 400});
    cases.push_back({"state, bad id", Svc::Write, "GET", p + "/state", "", 400});
    cases.push_back({"read order, bad id", Svc::Read, "GET", p, "", 400});
    cases.push_back({"customer, bad id", Svc::Read, "GET", "/customers/" + bad, "", 400});
  }
  // Query values.
  for (const auto& q : {"from_version=-1", "from_version=abc", "from_version=9223372036854775808",
                        "from_version=1e3", "from_version=", "limit=0", "limit=10001", "limit=-5",
                        "limit=abc", "limit=1.5", "limit=99999999999999999999999"}) {
    cases.push_back({std::string("events ") + q, Svc::Write, "GET", o + "/events?" + q, "", 400});
  }
  for (const auto& q :
       {"version=-1", "version=abc", "version=9223372036854775808", "version=1.0",
        "version=", "at=yesterday", "at=2026-13-45T00:00:00Z", "at=%00", "at=2026-01-01T00:00:00",
        "at=99999-01-01T00:00:00Z", "version=1&at=2026-01-01T00:00:00Z"}) {
    cases.push_back({std::string("state ") + q, Svc::Write, "GET", o + "/state?" + q, "", 400});
  }
  for (const auto& q : {"min_version=-1", "min_version=abc", "min_version=9223372036854775808",
                        "wait_ms=abc", "wait_ms=-1", "wait_ms=1e9", "min_version=%00"}) {
    cases.push_back({std::string("read order ") + q, Svc::Read, "GET", o + "?" + q, "", 400});
  }
  for (const auto& q : {"limit=0", "limit=501", "limit=-1", "limit=abc", "limit=1e3",
                        "limit=9223372036854775808", "status=Bogus", "status=draft", "status=",
                        "customer_id=a%20b", "customer_id=", "after=garbage", "after=%FF%FE"}) {
    cases.push_back(
        {std::string("list ") + q, Svc::Read, "GET", std::string("/orders?") + q, "", 400});
  }
  cases.push_back(
      {"list, customer_id 129", Svc::Read, "GET", "/orders?customer_id=" + l129, "", 400});
  for (const auto& c : cases) run(c);
}

TEST_F(Hostile, UnknownMethodsAndPaths) {
  const std::string o = std::string("/orders/") + kOrder;
  std::vector<Case> cases = {
      {"PUT on create", Svc::Write, "PUT", "/orders", "{}", 405},
      {"PATCH on items", Svc::Write, "PATCH", o + "/items", "{}", 405},
      {"GET on confirm", Svc::Write, "GET", o + "/confirm", "", 405},
      {"DELETE on ship", Svc::Write, "DELETE", o + "/ship", "", 405},
      {"POST on events", Svc::Write, "POST", o + "/events", "{}", 405},
      {"POST on healthz", Svc::Write, "POST", "/healthz", "{}", 405},
      {"unknown verb", Svc::Write, "BREW", "/orders", "", 405},
      {"lower-case verb", Svc::Write, "post", "/orders", "{}", 405},
      {"unknown path", Svc::Write, "GET", "/nope", "", 404},
      {"root", Svc::Write, "GET", "/", "", 404},
      // GET /orders/{id} is the order's state (a 201's Location); no other method.
      {"order with another method", Svc::Write, "DELETE", o, "", 405},
      {"too many segments", Svc::Write, "GET", o + "/items/p-1/x/y", "", 404},
      {"empty id segment", Svc::Write, "POST", "/orders//confirm", "", 404},
      {"path traversal", Svc::Write, "GET", "/../../etc/passwd", "", 404},
      {"POST on read order", Svc::Read, "POST", o, "{}", 405},
      {"DELETE on read order", Svc::Read, "DELETE", o, "", 405},
      {"POST on list", Svc::Read, "POST", "/orders", "{}", 405},
      {"PUT on projections", Svc::Read, "PUT", "/projections", "{}", 405},
      {"unknown verb on read", Svc::Read, "BREW", "/orders", "", 405},
      {"unknown path on read", Svc::Read, "GET", "/nope", "", 404},
      {"root on read", Svc::Read, "GET", "/", "", 404},
      {"write path on read", Svc::Read, "GET", o + "/events", "", 404},
  };
  for (const auto& c : cases) run(c);
}

// Each size limit at its value works and one past it is a 4xx that stores nothing: the body, the
// ids, the lines of an order, the quantity and price, the page sizes.
TEST_F(Hostile, AtEachSizeLimitARequestWorksAndOnePastItIsRefused) {
  HttpClient w("127.0.0.1", stack_->write_port());
  HttpClient rd("127.0.0.1", stack_->read_port());
  w.set_timeout(30s);
  const std::string id128 = repeat('i', 128), id129 = repeat('i', 129);
  auto expect_refused = [&](const std::string& name, const HttpResult& r, int status,
                            std::int64_t events_before) {
    SCOPED_TRACE(name);
    std::string why;
    EXPECT_TRUE(is_problem(r, status, &why)) << why;
    EXPECT_EQ(stack_->events_count(), events_before) << "a refused request stored events";
  };

  // The body: exactly BODY_LIMIT_BYTES (1 MiB by default) of valid JSON, then one byte more.
  const std::string head = R"({"customer_id":"size-cust"})";
  const std::size_t limit = 1024 * 1024;
  auto r = w.post("/orders", head + std::string(limit - head.size(), ' '));
  EXPECT_EQ(r.status, 201) << r.body.substr(0, 300);
  auto before = stack_->events_count();
  expect_refused("body one byte past the limit",
                 HttpClient("127.0.0.1", stack_->write_port())
                     .post("/orders", head + std::string(limit - head.size() + 1, ' ')),
                 413, before);

  // Ids of 128 characters work everywhere; 129 are a 400.
  r = w.post("/orders", R"({"order_id":")" + id128 + R"(","customer_id":")" + id128 + "\"}");
  ASSERT_EQ(r.status, 201) << r.body;
  r = w.post("/orders/" + id128 + "/items",
             R"({"product_id":")" + id128 + R"(","quantity":1000000,"price":"1000000.00"})");
  EXPECT_EQ(r.status, 200) << r.body;  // the largest quantity and price, together
  EXPECT_EQ(w.get("/orders/" + id128 + "/state").status, 200);
  EXPECT_EQ(w.get("/orders/" + id128 + "/events?limit=10000").status, 200);
  EXPECT_EQ(rd.get("/orders/" + id128 + "?min_version=2&wait_ms=10000").status, 200);
  EXPECT_EQ(rd.get("/orders?customer_id=" + id128 + "&limit=500").status, 200);
  EXPECT_EQ(rd.get("/customers/" + id128).status, 200);
  before = stack_->events_count();
  expect_refused("order_id 129",
                 w.post("/orders", R"({"order_id":")" + id129 + R"(","customer_id":"c"})"), 400,
                 before);
  expect_refused("quantity one past",
                 w.post("/orders/" + id128 + "/items",
                        R"({"product_id":"q","quantity":1000001,"price":"1.00"})"),
                 400, before);
  expect_refused("price one cent past",
                 w.post("/orders/" + id128 + "/items",
                        R"({"product_id":"q","quantity":1,"price":"1000000.01"})"),
                 400, before);
  expect_refused("events limit one past", w.get("/orders/" + id128 + "/events?limit=10001"), 400,
                 before);
  expect_refused("list limit one past", rd.get("/orders?limit=501"), 400, before);

  // The lines of an order: MAX_ORDER_LINES (1000 by default) distinct products, then one more.
  r = w.post("/orders", R"({"order_id":"size-lines","customer_id":"size-cust"})");
  ASSERT_EQ(r.status, 201) << r.body;
  for (int i = 0; i < 1000; ++i) {
    r = w.post("/orders/size-lines/items",
               R"({"product_id":"line-)" + std::to_string(i) + R"(","quantity":1,"price":"1.00"})");
    ASSERT_EQ(r.status, 200) << i << ": " << r.body;
  }
  before = stack_->events_count();
  r = w.post("/orders/size-lines/items",
             R"({"product_id":"line-extra","quantity":1,"price":"1.00"})");
  expect_refused("line 1001", r, 409, before);
  EXPECT_EQ(r.json().value("type", ""), "/problems/too-many-lines");
  EXPECT_EQ(rd.get("/orders/size-lines?min_version=1001&wait_ms=10000").status, 200);
}

// Both services answer a failure from one table (common/http/problem.cpp): the same kind of
// failure has the same type, title and status on either side.
TEST_F(Hostile, TheSameFailureHasTheSameProblemOnBothServices) {
  const std::string big_header = repeat('h', 20 * 1024);
  struct Pair {
    std::string name, method_w, target_w, method_r, target_r;
    Headers headers;
  };
  const std::vector<Pair> pairs = {
      {"bad id", "GET", "/orders/bad%20id/state", "GET", "/orders/bad%20id", {}},
      {"NUL in the URL", "GET", "/orders/a%00b/state", "GET", "/orders/a%00b", {}},
      {"unknown path", "GET", "/nope", "GET", "/nope", {}},
      {"wrong method", "PUT", "/orders", "PUT", "/orders", {}},
      {"head too large", "GET", "/healthz", "GET", "/healthz", {{"x-big", big_header}}},
      {"unknown order", "GET", "/orders/no-such-order/state", "GET", "/orders/no-such-order", {}},
  };
  for (const auto& p : pairs) {
    SCOPED_TRACE(p.name);
    HttpClient w("127.0.0.1", stack_->write_port());
    HttpClient r("127.0.0.1", stack_->read_port());
    const auto a = w.request(p.method_w, p.target_w, "", p.headers);
    const auto b = r.request(p.method_r, p.target_r, "", p.headers);
    ASSERT_GE(a.status, 400) << a.body;
    ASSERT_TRUE(nlohmann::json::accept(a.body) && nlohmann::json::accept(b.body))
        << a.body << " / " << b.body;
    const auto ja = nlohmann::json::parse(a.body), jb = nlohmann::json::parse(b.body);
    for (const char* field : {"type", "title", "status"}) {
      EXPECT_EQ(ja.value(field, nlohmann::json()), jb.value(field, nlohmann::json()))
          << field << ": " << a.body << " / " << b.body;
    }
    EXPECT_EQ(a.headers.count("content-type") ? a.headers.at("content-type") : "",
              b.headers.count("content-type") ? b.headers.at("content-type") : "");
  }
}

TEST_F(Hostile, OversizedBodiesAndHeads) {
  const std::string o = std::string("/orders/") + kOrder;
  const std::string big = R"({"customer_id":")" + repeat('a', 1024 * 1024) + "\"}";
  std::vector<Case> cases;
  for (const auto& target : {std::string("/orders"), o + "/items", o + "/ship", o + "/confirm"}) {
    cases.push_back({"body just over 1 MiB", Svc::Write, "POST", target, big, 413});
  }
  cases.push_back({"8 MiB body", Svc::Write, "POST", "/orders", repeat(' ', 8 * 1024 * 1024), 413});
  for (Svc s : {Svc::Write, Svc::Read}) {
    cases.push_back(
        {"one 20 KB header", s, "GET", "/healthz", "", 431, {{"X-Big", repeat('x', 20000)}}});
    Headers many;
    for (int i = 0; i < 1000; ++i) many["X-H" + std::to_string(i)] = repeat('v', 20);
    cases.push_back({"1000 headers", s, "GET", "/healthz", "", 431, many});
    cases.push_back({"20 KB URL", s, "GET", "/orders/" + repeat('a', 20000), "", 431});
  }
  for (const auto& c : cases) run(c);
}

// Raw bytes that are not valid HTTP: a 400 problem (or 413/431), never a crash.
TEST_F(Hostile, MalformedHttp) {
  struct RawCase {
    std::string name;
    std::string bytes;
    int status;
  };
  const std::vector<RawCase> cases = {
      {"garbage line", "GARBAGE\r\n\r\n", 400},
      {"bad version", "GET /healthz HTTP/1.x\r\nHost: x\r\n\r\n", 400},
      {"negative content-length", "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
       400},
      {"non-numeric content-length",
       "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400},
      {"overflowing content-length",
       "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
      {"content-length over the limit",
       "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n{", 413},
      {"two content-lengths",
       "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400},
      {"bad chunk size",
       "POST /orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
       "chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
       400},
      {"header without colon", "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", 400},
      {"NUL in header", with_nul("GET /healthz HTTP/1.1\r\nHost: x\0y\r\n\r\n"), 400},
      {"absolute-form target",
       "GET http://evil/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400},
      {"asterisk target", "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400},
      {"NUL in target", "GET /orders/a%00b/state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
       400},
  };
  const std::regex status_line(R"(^HTTP/1\.[01] (\d{3}) )");
  for (Svc s : {Svc::Write, Svc::Read}) {
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name);
      const auto before = stack_->events_count();
      HttpClient client("127.0.0.1", port(s));
      std::string reply = client.raw(c.bytes, 5s);
      std::smatch m;
      ASSERT_TRUE(std::regex_search(reply, m, status_line))
          << "no HTTP response: " << reply.substr(0, 200);
      EXPECT_EQ(std::stoi(m[1]), c.status) << reply.substr(0, 300);
      EXPECT_NE(reply.find("application/problem+json"), std::string::npos) << reply.substr(0, 300);
      EXPECT_EQ(stack_->events_count(), before);
      HttpClient probe("127.0.0.1", port(s));
      EXPECT_EQ(probe.get("/healthz").status, 200);
    }
  }
}

// A client that never finishes its head (or its body) is disconnected by the server within the
// request read timeout (10 s), and nothing is stored.
TEST_F(Hostile, SlowClientsAreDisconnected) {
  const auto before = stack_->events_count();
  auto slow = [](int port, std::string bytes) {
    HttpClient client("127.0.0.1", port);
    const auto t0 = std::chrono::steady_clock::now();
    std::string reply = client.raw(bytes, 25s);
    const auto took = std::chrono::steady_clock::now() - t0;
    return std::pair{reply, std::chrono::duration_cast<std::chrono::milliseconds>(took)};
  };
  const std::string head = "POST /orders HTTP/1.1\r\nHost: x\r\nContent-";
  const std::string body =
      "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100\r\n\r\n{\"customer_id\":";
  auto w_head = std::async(std::launch::async, slow, stack_->write_port(), head);
  auto w_body = std::async(std::launch::async, slow, stack_->write_port(), body);
  auto r_head = std::async(std::launch::async, slow, stack_->read_port(),
                           "GET /orders HTTP/1.1\r\nHost: x\r\n");
  auto nothing = std::async(std::launch::async, slow, stack_->write_port(), "");
  for (auto* f : {&w_head, &w_body, &r_head, &nothing}) {
    auto [reply, took] = f->get();
    EXPECT_LT(took, 20s) << "the server kept a slow client for " << took.count() << " ms";
    EXPECT_GE(took, 1s) << "closed suspiciously early";
    EXPECT_EQ(reply.find("HTTP/1.1 2"), std::string::npos) << reply.substr(0, 200);
  }
  EXPECT_EQ(stack_->events_count(), before);
  HttpClient probe("127.0.0.1", stack_->write_port());
  EXPECT_EQ(probe.get("/healthz").status, 200);
}

// After everything above, the services still do real work.
TEST_F(Hostile, ZServicesStillWorkAfterTheAbuse) {
  HttpClient w("127.0.0.1", stack_->write_port());
  auto r = w.post("/orders", R"({"customer_id":"after-abuse"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const auto id = r.json().at("order_id").get<std::string>();
  HttpClient rd("127.0.0.1", stack_->read_port());
  EXPECT_EQ(rd.get("/orders/" + id + "?min_version=1&wait_ms=10000").status, 200);
  EXPECT_TRUE(stack_->write_process()->running());
  EXPECT_TRUE(stack_->read_process(0)->running());
  // No request of this suite may have produced a 500 in the logs.
  EXPECT_EQ(stack_->write_log().find("request failed: unexpected error"), std::string::npos)
      << stack_->write_log().substr(0, 2000);
}

// ---- CLI ------------------------------------------------------------------------------------

struct CliResult {
  std::optional<int> code;
  std::string output;
};

// A service that starts in well under a second must reject a bad setting as fast.
CliResult run_cli(const std::string& binary, std::vector<std::string> args, Headers env,
                  std::chrono::milliseconds timeout = 8s) {
  Process p(binary, std::move(args), std::move(env));
  auto code = p.wait(timeout);
  if (!code) p.kill9();
  return {code, p.log()};
}

void expect_clean_failure(const CliResult& r, const std::string& must_mention) {
  ASSERT_TRUE(r.code.has_value()) << "did not exit in time; output:\n" << r.output;
  EXPECT_NE(*r.code, 0) << r.output;
  EXPECT_LT(*r.code, 128) << "killed by a signal (crash); output:\n" << r.output;
  EXPECT_FALSE(r.output.empty()) << "no message";
  EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
  if (!must_mention.empty()) {
    EXPECT_NE(r.output.find(must_mention), std::string::npos)
        << "message does not mention " << must_mention << ":\n"
        << r.output;
  }
}

TEST_F(Hostile, ReadSideCliRejectsBadArguments) {
  Headers env = stack_->read_env(0);
  env["READ_PORT"] = "0";
  env["REPLICA_ID"] = "cli-test";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"rebuild-projection"}, ""},
      {{"rebuild-projection", "bogus"}, "bogus"},
      {{"rebuild-projection", "orders;DROP TABLE events"}, ""},
      {{"rebuild-projection", repeat('x', 10000)}, ""},
      {{"rebuild-projection", ""}, ""},
      {{"rebuild-projection", "orders", "--frobnicate"}, "--frobnicate"},
      {{"rebuild-projection", "--all", "--dry-run", "--frobnicate"}, "--frobnicate"},
      {{"rebuild-projection", "--dry-run"}, ""},
      {{"frobnicate"}, "frobnicate"},
  };
  const auto before = stack_->events_count();
  const auto orders_before = stack_->sql_int("SELECT count(*) FROM orders");
  for (const auto& [args, mention] : cases) {
    std::string line;
    for (const auto& a : args) line += " " + a.substr(0, 40);
    SCOPED_TRACE("read-side" + line);
    expect_clean_failure(run_cli(read_side_binary(), args, env), mention);
  }
  EXPECT_EQ(stack_->events_count(), before);
  EXPECT_EQ(stack_->sql_int("SELECT count(*) FROM orders"), orders_before);
}

TEST_F(Hostile, ServicesRejectBadSettings) {
  const std::vector<std::pair<std::string, std::string>> write_bad = {
      {"WRITE_PORT", "abc"},
      {"WRITE_PORT", "70000"},
      {"WRITE_PORT", "-1"},
      {"WRITE_PORT", "80x"},
      {"PG_POOL_SIZE", "0"},
      {"PG_POOL_SIZE", "abc"},
      {"PG_POOL_SIZE", "99999999999999999999"},
      {"HTTP_WORKERS", "0"},
      {"GROUP_COMMIT", "maybe"},
      {"BODY_LIMIT_BYTES", "-5"},
      {"RELAY_ENABLED", "2"},
      {"LOG_LEVEL", "loud"},
      {"SNAPSHOT_EVERY", "-1"},
      {"WRITE_ADDRESS", "not-an-address"},
      {"DATABASE_URL", "not-a-url"},
  };
  for (const auto& [name, value] : write_bad) {
    SCOPED_TRACE("write-side " + name + "=" + value);
    Headers env = stack_->write_env();
    env["WRITE_PORT"] = "0";
    env[name] = value;
    // A bad DATABASE_URL or address is reported by the component that uses it.
    const bool by_name = name != "DATABASE_URL" && name != "WRITE_ADDRESS";
    expect_clean_failure(run_cli(write_side_binary(), {"serve"}, env), by_name ? name : "");
  }
  const std::vector<std::pair<std::string, std::string>> read_bad = {
      {"READ_PORT", "abc"},     {"READ_PORT", "65536"}, {"PG_POOL_SIZE", "abc"},
      {"PROJECTOR_BATCH", "0"}, {"HTTP_WORKERS", "-3"}, {"LOG_LEVEL", "loud"},
  };
  for (const auto& [name, value] : read_bad) {
    SCOPED_TRACE("read-side " + name + "=" + value);
    Headers env = stack_->read_env(0);
    env["READ_PORT"] = "0";
    env["REPLICA_ID"] = "cli-test";
    env[name] = value;
    expect_clean_failure(run_cli(read_side_binary(), {"serve"}, env), name);
  }
  SCOPED_TRACE("write-side unknown subcommand");
  expect_clean_failure(run_cli(write_side_binary(), {"frobnicate"}, stack_->write_env()),
                       "frobnicate");
}

}  // namespace
}  // namespace orders::testing::e2e
