// Authentication (issue 6, item 3): with COMMAND_TOKEN / QUERY_TOKEN / ADMIN_TOKEN set, a command
// without a token gets 401 problem+json with WWW-Authenticate: Bearer, a wrong token 403, the right
// token 2xx; the query token does not open commands; /metrics needs the admin token; health
// endpoints stay open; a refused request stores nothing. Without tokens the services start with a
// clear warning in their log. The web console's page is open; CORS lets only its origin read.
#include <sstream>

#include <gtest/gtest.h>

#include "tests/e2e/support/stack.hpp"

namespace orders::testing::e2e {
namespace {

using namespace std::chrono_literals;
using Headers = std::map<std::string, std::string>;

const std::string kCommand = "cmd-7f3a9c1e5b";
const std::string kQuery = "qry-2d8e4b6a0c";
const std::string kAdmin = "adm-9b1c3e5f7a";
const std::string kConsole = "http://console.test:8080";  // the one origin in CORS_ORIGINS

Headers bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

class Auth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StackOptions so;
    so.db_hint = "auth";
    so.write_env = {{"COMMAND_TOKEN", kCommand},
                    {"QUERY_TOKEN", kQuery},
                    {"ADMIN_TOKEN", kAdmin},
                    {"CORS_ORIGINS", kConsole}};
    so.read_env = {{"QUERY_TOKEN", kQuery}, {"ADMIN_TOKEN", kAdmin}, {"CORS_ORIGINS", kConsole}};
    stack_ = std::make_unique<Stack>(so);
  }
  static void TearDownTestSuite() { stack_.reset(); }

  static HttpResult send(int port, const std::string& method, const std::string& target,
                         const std::string& body, const Headers& headers) {
    HttpClient c("127.0.0.1", port);
    c.set_timeout(15s);
    return c.request(method, target, body, headers);
  }

  static std::unique_ptr<Stack> stack_;
};
std::unique_ptr<Stack> Auth::stack_;

struct Endpoint {
  std::string method;
  std::string target;
  std::string body;
};

TEST_F(Auth, CommandsNeedTheCommandToken) {
  const int w = stack_->write_port();
  auto created =
      send(w, "POST", "/orders", R"({"order_id":"auth-1","customer_id":"c"})", bearer(kCommand));
  ASSERT_EQ(created.status, 201) << created.body;

  const std::vector<Endpoint> commands = {
      {"POST", "/orders", R"({"customer_id":"c"})"},
      {"POST", "/orders/auth-1/items", R"({"product_id":"p","quantity":1,"price":"2.50"})"},
      {"DELETE", "/orders/auth-1/items/p", ""},
      {"POST", "/orders/auth-1/confirm", ""},
      {"POST", "/orders/auth-1/ship", R"({"tracking_number":"t-1"})"},
      {"POST", "/orders/auth-1/deliver", ""},
  };
  const std::vector<std::pair<std::string, Headers>> refused_401 = {
      {"no Authorization header", {}},
      {"empty Authorization", {{"Authorization", ""}}},
      {"Basic scheme", {{"Authorization", "Basic " + kCommand}}},
      {"token without scheme", {{"Authorization", kCommand}}},
  };
  const std::vector<std::pair<std::string, Headers>> refused_403 = {
      {"wrong token", bearer("wrong")},
      {"query token", bearer(kQuery)},
      {"prefix of the token", bearer(kCommand.substr(0, kCommand.size() - 1))},
      {"token plus a byte", bearer(kCommand + "x")},
      {"same length, first byte differs", {{"Authorization", "Bearer x" + kCommand.substr(1)}}},
  };
  for (const auto& ep : commands) {
    SCOPED_TRACE(ep.method + " " + ep.target);
    const auto before = stack_->events_count();
    for (const auto& [what, headers] : refused_401) {
      SCOPED_TRACE(what);
      auto r = send(w, ep.method, ep.target, ep.body, headers);
      std::string why;
      EXPECT_TRUE(is_problem(r, 401, &why)) << why;
      EXPECT_EQ(r.headers["www-authenticate"].rfind("Bearer", 0), 0u)
          << "WWW-Authenticate: " << r.headers["www-authenticate"];
    }
    for (const auto& [what, headers] : refused_403) {
      SCOPED_TRACE(what);
      auto r = send(w, ep.method, ep.target, ep.body, headers);
      std::string why;
      EXPECT_TRUE(is_problem(r, 403, &why)) << why;
    }
    EXPECT_EQ(stack_->events_count(), before) << "a refused command stored events";
  }
  // The right token opens each command (in a valid order).
  for (const auto& ep : {commands[1], commands[2], commands[1], commands[3], commands[4],
                         commands[5], commands[0]}) {
    SCOPED_TRACE("with the command token: " + ep.method + " " + ep.target);
    auto r = send(w, ep.method, ep.target, ep.body, bearer(kCommand));
    EXPECT_GE(r.status, 200) << r.body;
    EXPECT_LT(r.status, 300) << r.body;
  }
}

TEST_F(Auth, QueriesNeedTheQueryTokenOnBothSides) {
  const int w = stack_->write_port();
  const int rd = stack_->read_port();
  auto created =
      send(w, "POST", "/orders", R"({"order_id":"auth-q","customer_id":"cq"})", bearer(kCommand));
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(
      send(rd, "GET", "/orders/auth-q?min_version=1&wait_ms=10000", "", bearer(kQuery)).status,
      200);

  const std::vector<std::pair<int, std::string>> queries = {
      {w, "/orders/auth-q/events"}, {w, "/orders/auth-q/state"}, {rd, "/orders/auth-q"},
      {rd, "/orders?limit=5"},      {rd, "/customers/cq"},       {rd, "/projections"},
      {w, "/events?limit=1"},
  };
  for (const auto& [port, target] : queries) {
    SCOPED_TRACE(target + (port == w ? " (write-side)" : " (read-side)"));
    auto none = send(port, "GET", target, "", {});
    std::string why;
    EXPECT_TRUE(is_problem(none, 401, &why)) << why;
    EXPECT_EQ(none.headers["www-authenticate"].rfind("Bearer", 0), 0u);
    auto wrong = send(port, "GET", target, "", bearer("nope"));
    EXPECT_TRUE(is_problem(wrong, 403, &why)) << why;
    auto command_token = send(port, "GET", target, "", bearer(kCommand));
    EXPECT_TRUE(is_problem(command_token, 403, &why))
        << "the command token opened a query: " << why;
    auto ok = send(port, "GET", target, "", bearer(kQuery));
    EXPECT_EQ(ok.status, 200) << ok.body;
    // The auth scheme is case-insensitive (RFC 7235 section 2.1).
    auto lower = send(port, "GET", target, "", {{"Authorization", "bearer " + kQuery}});
    EXPECT_EQ(lower.status, 200) << "\"bearer\" in lower case refused: " << lower.body;
  }
}

TEST_F(Auth, MetricsNeedTheAdminTokenAndHealthStaysOpen) {
  for (int port : {stack_->write_port(), stack_->read_port()}) {
    SCOPED_TRACE(port == stack_->write_port() ? "write-side" : "read-side");
    std::string why;
    auto none = send(port, "GET", "/metrics", "", {});
    EXPECT_TRUE(is_problem(none, 401, &why)) << why;
    auto query = send(port, "GET", "/metrics", "", bearer(kQuery));
    EXPECT_TRUE(is_problem(query, 403, &why)) << "the query token opened /metrics: " << why;
    auto command = send(port, "GET", "/metrics", "", bearer(kCommand));
    EXPECT_TRUE(is_problem(command, 403, &why)) << "the command token opened /metrics: " << why;
    auto admin = send(port, "GET", "/metrics", "", bearer(kAdmin));
    EXPECT_EQ(admin.status, 200);
    EXPECT_NE(admin.body.find("orders_http_requests_total"), std::string::npos);
    EXPECT_EQ(send(port, "GET", "/healthz", "", {}).status, 200);
    EXPECT_EQ(send(port, "GET", "/readyz", "", {}).status, 200);
    EXPECT_EQ(send(port, "GET", "/healthz", "", bearer("garbage")).status, 200);
  }
}

TEST_F(Auth, ErrorsDoNotLeakTheTokens) {
  const int w = stack_->write_port();
  auto r = send(w, "POST", "/orders", R"({"customer_id":"c"})", bearer(kQuery));
  EXPECT_EQ(r.body.find(kQuery), std::string::npos);
  EXPECT_EQ(r.body.find(kCommand), std::string::npos);
  const std::string log = stack_->write_log() + stack_->read_log(0);
  for (const auto& t : {kCommand, kQuery, kAdmin}) {
    EXPECT_EQ(log.find(t), std::string::npos) << "a token appears in a service log";
  }
}

// The web console (/ui) is open (it holds no data); its cross-origin reads are allowed for the
// listed origin only, for GET only, and still need the query token.
TEST_F(Auth, TheConsoleIsOpenAndCorsAllowsOnlyItsOriginToRead) {
  for (int port : {stack_->write_port(), stack_->read_port()}) {
    SCOPED_TRACE(port == stack_->write_port() ? "write-side" : "read-side");
    auto page = send(port, "GET", "/ui", "", {});
    EXPECT_EQ(page.status, 200);
    EXPECT_NE(page.headers["content-security-policy"].find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(send(port, "GET", "/ui/console.js", "", {}).status, 200);

    const Headers preflight = {{"Origin", kConsole},
                               {"Access-Control-Request-Method", "GET"},
                               {"Access-Control-Request-Headers", "authorization"}};
    auto pre = send(port, "OPTIONS", "/healthz", "", preflight);
    EXPECT_EQ(pre.status, 204);
    EXPECT_EQ(pre.headers["access-control-allow-origin"], kConsole);
    Headers other = preflight;
    other["Origin"] = "http://evil.test";
    EXPECT_EQ(send(port, "OPTIONS", "/healthz", "", other).status, 405);
    Headers post = preflight;
    post["Access-Control-Request-Method"] = "POST";
    EXPECT_EQ(send(port, "OPTIONS", "/orders", "", post).status, 405);

    Headers read = bearer(kQuery);
    read["Origin"] = kConsole;
    auto ok = send(port, "GET", "/ui/config.json", "", read);
    EXPECT_EQ(ok.headers["access-control-allow-origin"], kConsole);
    read["Origin"] = "http://evil.test";
    EXPECT_EQ(
        send(port, "GET", "/ui/config.json", "", read).headers.count("access-control-allow-origin"),
        0u);
    auto no_token = send(port, "GET", port == stack_->write_port() ? "/events" : "/projections", "",
                         {{"Origin", kConsole}});
    EXPECT_EQ(no_token.status, 401) << "CORS must not bypass the token";
  }
  // A command from the console's origin gets no CORS header: a page cannot read its answer.
  Headers cmd = bearer(kCommand);
  cmd["Origin"] = kConsole;
  auto created = send(stack_->write_port(), "POST", "/orders",
                      R"({"order_id":"auth-cors","customer_id":"c"})", cmd);
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(created.headers.count("access-control-allow-origin"), 0u);
}

// Local stack default: no tokens; each service says so at start.
TEST(AuthOff, ServicesWarnAtStartWhenTokensAreEmpty) {
  StackOptions so;
  so.db_hint = "auth_off";
  Stack stack(so);
  const std::string wlog = stack.write_log();
  const std::string rlog = stack.read_log(0);
  auto warns_about_auth = [](const std::string& log) {
    std::istringstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      const bool warn = line.find("warn") != std::string::npos;
      const bool about = line.find("TOKEN") != std::string::npos ||
                         line.find("authentication") != std::string::npos;
      if (warn && about) return true;
    }
    return false;
  };
  EXPECT_TRUE(warns_about_auth(wlog)) << "write-side log:\n" << wlog.substr(0, 3000);
  EXPECT_TRUE(warns_about_auth(rlog)) << "read-side log:\n" << rlog.substr(0, 3000);
  // And everything is open.
  HttpClient w("127.0.0.1", stack.write_port());
  EXPECT_EQ(w.post("/orders", R"({"customer_id":"open"})").status, 201);
  EXPECT_EQ(w.get("/metrics").status, 200);
}

}  // namespace
}  // namespace orders::testing::e2e
