// A real http::Server on 127.0.0.1:<port 0> with a few handlers: limits, routing, errors, auth,
// request ids, metrics, slow clients, connection limit, handler time-out and graceful stop.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <mutex>
#include <regex>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "common/http/conditional.hpp"
#include "common/http/problem.hpp"
#include "common/http/server.hpp"
#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "common/pg/pool.hpp"
#include "common/pg/sqlstate.hpp"
#include "tests/support/services.hpp"

namespace orders::http {
namespace {

using namespace std::chrono_literals;
using orders::testing::HttpClient;
using orders::testing::wait_until;

// A plain blocking POSIX socket with deadlines, for byte-level tests.
class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return connected_; }
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads until the peer closes (true) or the deadline passes (false); bytes go to `out`.
  bool read_until_closed(std::string& out, std::chrono::milliseconds deadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    char buf[8192];
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;  // EOF or reset: closed
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  // Reads until `needle` shows up (true) or closed/deadline (false).
  bool read_until(std::string& out, std::string_view needle, std::chrono::milliseconds deadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    char buf[8192];
    while (out.find(needle) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string header_of(const orders::testing::HttpResult& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

// Redirects stderr (fd 2, where the Logger writes) into a temp file while alive.
class CaptureStderr {
 public:
  CaptureStderr() {
    std::fflush(stderr);
    file_ = std::tmpfile();
    saved_ = ::dup(2);
    ::dup2(::fileno(file_), 2);
  }
  ~CaptureStderr() {
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    std::fclose(file_);
  }
  // Everything written so far (the capture stays active).
  std::string text() {
    std::fflush(stderr);
    std::string out;
    std::FILE* f = std::fopen(("/proc/self/fd/" + std::to_string(::fileno(file_))).c_str(), "r");
    if (f == nullptr) return out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
  }

 private:
  std::FILE* file_;
  int saved_ = -1;
};

// The JSON log lines whose "msg" is `msg`.
std::vector<nlohmann::json> log_lines(const std::string& text, const std::string& msg) {
  std::vector<nlohmann::json> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    const std::string line =
        text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? text.size() : end + 1;
    if (!nlohmann::json::accept(line)) continue;
    auto j = nlohmann::json::parse(line);
    if (j.value("msg", "") == msg) out.push_back(std::move(j));
  }
  return out;
}

// A latch the /slow handler waits on, so tests control when an in-flight request finishes.
struct Gate {
  std::promise<void> open_promise;
  std::shared_future<void> opened = open_promise.get_future().share();
  std::atomic<int> entered{0};
  void open() { open_promise.set_value(); }
  // Threads answering async requests later (joined when the gate goes).
  std::mutex mu;
  std::vector<std::jthread> responders;
  void later(std::function<void()> fn) {
    std::lock_guard lock(mu);
    responders.emplace_back(std::move(fn));
  }
};

Router make_router(Gate& gate) {
  Router r;
  r.add("GET", "/ok", [](const Request& req) {
    return json_response(200, {{"ok", true}, {"request_id", req.request_id}});
  });
  r.add("GET", "/versioned", [](const Request& req) {
    return conditional_get(req, 7, json_response(200, {{"version", 7}}));
  });
  r.add("POST", "/echo", [](const Request& req) {
    return json_response(200, {{"bytes", req.body.size()}});
  });
  r.add("GET", "/items/{id}", [](const Request& req) {
    return json_response(
        200, {{"id", req.path_params.at("id")}, {"query", req.query}, {"route", req.route}});
  });
  // Async handlers: answered inline, later from another thread, twice, never, or by throwing.
  r.add_async(
      "GET", "/async/now",
      [](const Request& req, Respond respond) {
        respond(json_response(200, {{"async", "now"}, {"request_id", req.request_id}}));
      },
      "public");
  r.add_async(
      "GET", "/async/later/{n}",
      [&gate](const Request& req, Respond respond) {
        gate.later([n = req.path_params.at("n"), respond] {  // answered from another thread
          respond(json_response(200, {{"async", "later"}, {"n", n}}));
        });
      },
      "public");
  r.add_async(
      "GET", "/async/twice",
      [](const Request&, Respond respond) {
        respond(json_response(200, {{"answer", 1}}));
        respond(json_response(500, {{"answer", 2}}));
      },
      "public");
  r.add_async(
      "GET", "/async/never", [](const Request&, Respond) {}, "public");
  r.add_async(
      "GET", "/async/boom",
      [](const Request&, Respond) {
        throw std::runtime_error("secret-internal-detail: password=hunter2");
      },
      "public");
  r.add_async(
      "GET", "/async/busy", [](const Request&, Respond) { throw pg::PoolExhausted("pool empty"); },
      "public");
  r.add_async(
      "POST", "/async/scoped",
      [](const Request&, Respond respond) {
        respond(json_response(202, {{"accepted", true}}));
      },
      "command");
  r.add("GET", "/boom", [](const Request&) -> Response {
    throw std::runtime_error("secret-internal-detail: password=hunter2");
  });
  r.add("GET", "/busy", [](const Request&) -> Response { throw pg::PoolExhausted("pool empty"); });
  r.add("GET", "/statement-timeout", [](const Request&) -> Response {
    throw pqxx::sql_error("canceling statement due to statement timeout", "SELECT pg_sleep(9)",
                          "57014");
  });
  r.add("GET", "/conn-lost",
        [](const Request&) -> Response { throw pqxx::broken_connection("gone"); });
  r.add("GET", "/slow", [&gate](const Request&) {
    ++gate.entered;
    gate.opened.wait_for(10s);
    return json_response(200, {{"slow", true}});
  });
  r.add(
      "POST", "/orders",
      [](const Request&) {
        return json_response(201, {{"created", true}});
      },
      "command");
  r.add(
      "GET", "/orders",
      [](const Request&) {
        return json_response(200, {{"orders", nlohmann::json::array()}});
      },
      "query");
  r.add(
      "GET", "/admin",
      [](const Request&) {
        return json_response(200, {{"admin", true}});
      },
      "admin");
  return r;
}

ServerOptions test_options() {
  ServerOptions o;
  o.is_transient = pg::is_transient;
  o.port = 0;
  o.io_threads = 2;
  o.worker_threads = 8;
  o.body_limit = 1024;
  o.header_limit = 2048;
  o.request_read_timeout = 500ms;
  o.idle_timeout = 2000ms;
  o.handler_timeout = 5000ms;
  o.service_name = "http-test";
  o.tokens = {{"command", "c-secret"}, {"admin", "a-secret"}, {"query", ""}};
  return o;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions options = test_options()) {
    gate_ = std::make_unique<Gate>();
    gate_opened_ = false;
    server_ = std::make_unique<Server>(std::move(options), make_router(*gate_), logger_, metrics_);
    server_->start();
    port_ = server_->port();
  }
  void SetUp() override { start(); }
  void TearDown() override {
    if (gate_ && !gate_opened_) gate_->open();
    gate_opened_ = true;
    server_.reset();
  }
  void open_gate() {
    gate_opened_ = true;
    gate_->open();
  }

  static nlohmann::json body(const orders::testing::HttpResult& r) {
    return nlohmann::json::parse(r.body);
  }

  log::Logger logger_{"http-test", log::Level::Warn};
  metrics::Registry metrics_;
  std::unique_ptr<Gate> gate_;
  bool gate_opened_ = false;
  std::unique_ptr<Server> server_;
  int port_ = 0;
};

TEST_F(HttpServerTest, ServesAJsonResponseWithContentLengthAndRequestId) {
  HttpClient c("127.0.0.1", port_);
  const auto r = c.get("/ok");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("content-length"), std::to_string(r.body.size()));
  ASSERT_TRUE(r.headers.count("x-request-id"));
  EXPECT_FALSE(r.headers.at("x-request-id").empty());
  EXPECT_EQ(body(r).at("request_id"), r.headers.at("x-request-id"));
  // A second request on the same keep-alive connection gets another id.
  const auto r2 = c.get("/ok");
  ASSERT_EQ(r2.status, 200);
  EXPECT_NE(r2.headers.at("x-request-id"), r.headers.at("x-request-id"));
}

TEST_F(HttpServerTest, EveryResponseHasADateAndEveryProblemTheInstanceOfItsRequest) {
  HttpClient c("127.0.0.1", port_);
  const std::regex imf_fixdate(
      R"(^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$)");
  const auto ok = c.get("/ok");
  ASSERT_EQ(ok.status, 200);
  EXPECT_TRUE(std::regex_match(ok.headers.at("date"), imf_fixdate)) << ok.headers.at("date");
  // Problems from the router, from the server's own limits and from a handler's exception.
  const auto missing = c.request("GET", "/nope", "", {{"X-Request-Id", "rid-404"}});
  ASSERT_EQ(missing.status, 404);
  EXPECT_TRUE(std::regex_match(missing.headers.at("date"), imf_fixdate));
  EXPECT_EQ(body(missing).at("instance"), "urn:request:rid-404");
  HttpClient big("127.0.0.1", port_);
  const auto too_large = big.request("POST", "/echo", std::string(4096, 'x'));
  ASSERT_EQ(too_large.status, 413);
  EXPECT_TRUE(too_large.headers.count("date"));
  EXPECT_EQ(body(too_large).at("instance"), "urn:request:" + too_large.headers.at("x-request-id"));
}

TEST_F(HttpServerTest, IfNoneMatchOfTheCurrentVersionIs304WithoutABody) {
  HttpClient c("127.0.0.1", port_);
  const auto full = c.get("/versioned");
  ASSERT_EQ(full.status, 200);
  EXPECT_EQ(full.headers.at("etag"), "\"7\"");
  for (const char* tag : {"\"7\"", "W/\"7\"", "\"3\", W/\"7\"", "*"}) {
    const auto same = c.request("GET", "/versioned", "", {{"If-None-Match", tag}});
    EXPECT_EQ(same.status, 304) << tag;
    EXPECT_EQ(same.body, "") << tag;
    EXPECT_EQ(same.headers.at("etag"), "\"7\"") << tag;
    EXPECT_EQ(same.headers.count("content-type"), 0u) << tag;
    EXPECT_TRUE(same.headers.count("date")) << tag;
  }
  const auto other = c.request("GET", "/versioned", "", {{"If-None-Match", "\"6\", \"x\""}});
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.headers.at("etag"), "\"7\"");
  // The keep-alive connection is still in step after the bodiless 304s.
  EXPECT_EQ(c.get("/ok").status, 200);
}

TEST_F(HttpServerTest, ClientRequestIdIsEchoedWhenSaneReplacedOtherwise) {
  HttpClient c("127.0.0.1", port_);
  auto r = c.request("GET", "/ok", "", {{"X-Request-Id", "client-id_1.2:3"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.at("x-request-id"), "client-id_1.2:3");
  r = c.request("GET", "/ok", "", {{"X-Request-Id", std::string(129, 'a')}});
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers.at("x-request-id"), std::string(129, 'a'));
  r = c.request("GET", "/ok", "", {{"X-Request-Id", "has space"}});
  EXPECT_NE(r.headers.at("x-request-id"), "has space");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  HttpClient c("127.0.0.1", port_);
  auto r = c.get("/nope");
  ASSERT_EQ(r.status, 404);
  EXPECT_EQ(r.headers.at("content-type"), "application/problem+json");
  EXPECT_EQ(body(r).at("status"), 404);
  r = c.del("/ok");
  ASSERT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.at("allow"), "GET");
  EXPECT_EQ(r.headers.at("content-type"), "application/problem+json");
  r = c.request("PUT", "/orders");
  ASSERT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.at("allow"), "GET, POST");
}

TEST_F(HttpServerTest, PathAndQueryArePercentDecoded) {
  HttpClient c("127.0.0.1", port_);
  const auto r = c.get("/items/a%2Fb%C3%A9?x=1%262&y=a+b");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = body(r);
  EXPECT_EQ(j.at("id"), "a/b\xC3\xA9");
  EXPECT_EQ(j.at("query").at("x"), "1&2");
  EXPECT_EQ(j.at("query").at("y"), "a b");
  EXPECT_EQ(j.at("route"), "/items/{id}");
}

TEST_F(HttpServerTest, BadEscapesAndNulAre400) {
  HttpClient c("127.0.0.1", port_);
  for (const char* target : {"/items/%zz", "/items/a%00b", "/items/x?q=%0", "/items/%"}) {
    const auto r = c.get(target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(header_of(r, "content-type"), "application/problem+json") << target;
  }
}

TEST_F(HttpServerTest, MalformedHttpIs400AndClosed) {
  RawSocket s(port_);
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.send("THIS IS NOT HTTP\r\n\r\n"));
  std::string got;
  EXPECT_TRUE(s.read_until_closed(got, 3s)) << "connection not closed";
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
  EXPECT_NE(got.find("application/problem+json"), std::string::npos);
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413AndTheConnectionCloses) {
  HttpClient c("127.0.0.1", port_);
  auto r = c.post("/echo", std::string(1024, 'x'));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body(r).at("bytes"), 1024);
  r = c.post("/echo", std::string(200 * 1024, 'x'));
  ASSERT_EQ(r.status, 413);
  EXPECT_EQ(r.headers.at("content-type"), "application/problem+json");
  EXPECT_EQ(r.headers.at("connection"), "close");
  EXPECT_EQ(body(r).at("status"), 413);
  // The server still answers afterwards.
  EXPECT_EQ(c.get("/ok").status, 200);
}

TEST_F(HttpServerTest, ChunkedBodyOverTheLimitIs413) {
  RawSocket s(port_);
  ASSERT_TRUE(s.connected());
  std::string chunk(800, 'y');
  ASSERT_TRUE(s.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  s.send(std::string(size) + chunk + "\r\n" + size + chunk + "\r\n0\r\n\r\n");
  std::string got;
  EXPECT_TRUE(s.read_until_closed(got, 3s));
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
}

TEST_F(HttpServerTest, HeadersOverTheLimitAre431) {
  HttpClient c("127.0.0.1", port_);
  const auto r = c.request("GET", "/ok", "", {{"X-Big", std::string(4096, 'h')}});
  ASSERT_EQ(r.status, 431);
  EXPECT_EQ(r.headers.at("content-type"), "application/problem+json");
  EXPECT_EQ(c.get("/ok").status, 200);
}

TEST_F(HttpServerTest, HandlerExceptionIs500WithoutItsText) {
  HttpClient c("127.0.0.1", port_);
  const auto r = c.get("/boom");
  ASSERT_EQ(r.status, 500);
  EXPECT_EQ(r.headers.at("content-type"), "application/problem+json");
  EXPECT_EQ(r.body.find("secret"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("hunter2"), std::string::npos) << r.body;
  // The detail points at the request id, which the log line carries.
  EXPECT_NE(body(r).at("detail").get<std::string>().find(r.headers.at("x-request-id")),
            std::string::npos);
  EXPECT_EQ(c.get("/ok").status, 200);
}

TEST(HttpServerLogging, AccessLineAndHandlerErrorCarryTheRequestId) {
  CaptureStderr capture;
  log::Logger logger("log-test", log::Level::Info);
  metrics::Registry metrics;
  Gate gate;
  gate.open();
  Server server(test_options(), make_router(gate), logger, metrics);
  server.start();
  HttpClient c("127.0.0.1", server.port());
  const auto ok = c.request("GET", "/items/7", "", {{"X-Request-Id", "req-ok-1"}});
  ASSERT_EQ(ok.status, 200);
  const auto boom = c.request("GET", "/boom", "", {{"X-Request-Id", "req-boom-1"}});
  ASSERT_EQ(boom.status, 500);

  std::vector<nlohmann::json> access;
  ASSERT_TRUE(
      wait_until([&] { return (access = log_lines(capture.text(), "request")).size() >= 2; }, 3s))
      << capture.text();
  const auto& line = access[0];
  EXPECT_EQ(line.at("request_id"), "req-ok-1");
  EXPECT_EQ(line.at("method"), "GET");
  EXPECT_EQ(line.at("route"), "/items/{id}");
  EXPECT_EQ(line.at("status"), 200);
  EXPECT_TRUE(line.at("duration_ms").is_number());
  EXPECT_EQ(line.at("level"), "info");
  EXPECT_EQ(line.at("service"), "log-test");

  // The exception text goes to the log (with the request id), never to the client.
  const auto errors = log_lines(capture.text(), "request failed: unexpected error");
  ASSERT_EQ(errors.size(), 1u) << capture.text();
  EXPECT_EQ(errors[0].at("request_id"), "req-boom-1");
  EXPECT_EQ(errors[0].at("level"), "error");
  EXPECT_NE(errors[0].at("error").get<std::string>().find("secret-internal-detail"),
            std::string::npos);
  server.stop();
}

TEST_F(HttpServerTest, DatabaseUnavailabilityIs503WithRetryAfter) {
  HttpClient c("127.0.0.1", port_);
  for (const char* target : {"/busy", "/statement-timeout", "/conn-lost"}) {
    const auto r = c.get(target);
    ASSERT_EQ(r.status, 503) << target;
    EXPECT_EQ(r.headers.at("retry-after"), "1") << target;
    EXPECT_EQ(r.headers.at("content-type"), "application/problem+json");
    EXPECT_EQ(r.body.find("statement timeout"), std::string::npos) << r.body;
  }
}

TEST_F(HttpServerTest, ScopedRoutesNeedTheirBearerToken) {
  HttpClient c("127.0.0.1", port_);
  auto r = c.post("/orders", "{}");
  ASSERT_EQ(r.status, 401);
  EXPECT_EQ(r.headers.at("www-authenticate"), "Bearer");
  EXPECT_EQ(r.headers.at("content-type"), "application/problem+json");
  r = c.post("/orders", "{}", {{"Authorization", "Basic Yzpj"}});
  EXPECT_EQ(r.status, 401);
  r = c.post("/orders", "{}", {{"Authorization", "Bearer c-secreT"}});
  ASSERT_EQ(r.status, 403);
  EXPECT_EQ(r.headers.at("content-type"), "application/problem+json");
  r = c.post("/orders", "{}", {{"Authorization", "Bearer a-secret"}});  // another scope's token
  EXPECT_EQ(r.status, 403);
  r = c.post("/orders", "{}", {{"Authorization", "Bearer c-secret"}});
  EXPECT_EQ(r.status, 201);
  r = c.post("/orders", "{}",
             {{"Authorization", "bearer c-secret"}});  // scheme is case-insensitive
  EXPECT_EQ(r.status, 201);
  // An empty token leaves its scope open; public routes never need one.
  EXPECT_EQ(c.get("/orders").status, 200);
  EXPECT_EQ(c.get("/ok").status, 200);
  EXPECT_EQ(c.get("/admin").status, 401);
  EXPECT_EQ(c.request("GET", "/admin", "", {{"Authorization", "Bearer a-secret"}}).status, 200);
}

TEST_F(HttpServerTest, MetricsCountRequestsByRouteAndStatus) {
  HttpClient c("127.0.0.1", port_);
  ASSERT_EQ(c.get("/items/1").status, 200);
  ASSERT_EQ(c.get("/items/2").status, 200);
  ASSERT_EQ(c.get("/nope").status, 404);
  // The access log and metrics are written after the response goes out.
  const auto has = [&](const std::string& needle) {
    return wait_until([&] { return metrics_.render().find(needle) != std::string::npos; }, 2s);
  };
  EXPECT_TRUE(
      has("orders_http_requests_total{method=\"GET\",route=\"/items/{id}\",code=\"200\"} 2\n"))
      << metrics_.render();
  EXPECT_TRUE(
      has("orders_http_requests_total{method=\"GET\",route=\"unmatched\",code=\"404\"} 1\n"));
  EXPECT_TRUE(has("orders_http_request_duration_seconds_count{route=\"/items/{id}\"} 2\n"));
  EXPECT_TRUE(
      has("orders_http_request_duration_seconds_bucket{route=\"/items/{id}\",le=\"+Inf\"} 2\n"));
}

TEST_F(HttpServerTest, SlowClientThatNeverFinishesItsHeadersIsDisconnected) {
  RawSocket s(port_);
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.send("GET /ok HTTP/1.1\r\nHost: x\r\n"));
  std::string got;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(s.read_until_closed(got, 5s)) << "slow client was not disconnected";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(got, "");
}

TEST_F(HttpServerTest, TricklingClientIsBoundByTheWholeRequestDeadline) {
  RawSocket s(port_);
  ASSERT_TRUE(s.connected());
  // One header byte every 50 ms: each read makes progress, but the request deadline (500 ms) covers
  // the whole head, so the server must hang up long before the 200 bytes are sent.
  const std::string head =
      "GET /ok HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(150, 'p') + "\r\n\r\n";
  const auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  for (char ch : head) {
    if (!s.send(std::string(1, ch))) {
      closed = true;
      break;
    }
    std::string got;
    if (s.read_until_closed(got, 50ms)) {
      closed = true;
      break;
    }
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST_F(HttpServerTest, ConnectionThatSendsNothingIsClosed) {
  RawSocket s(port_);
  ASSERT_TRUE(s.connected());
  std::string got;
  EXPECT_TRUE(s.read_until_closed(got, 5s));
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  TearDown();
  auto o = test_options();
  o.idle_timeout = 300ms;
  start(o);
  RawSocket s(port_);
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got;
  ASSERT_TRUE(s.read_until(got, "\"ok\":true", 3s)) << got;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(s.read_until_closed(got, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  RawSocket s(port_);
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(
      s.send("GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /items/2 HTTP/1.1\r\nHost: "
             "x\r\nConnection: close\r\n\r\n"));
  std::string got;
  EXPECT_TRUE(s.read_until_closed(got, 3s));
  const auto first = got.find("\"id\":\"1\"");
  const auto second = got.find("\"id\":\"2\"");
  ASSERT_NE(first, std::string::npos) << got;
  ASSERT_NE(second, std::string::npos) << got;
  EXPECT_LT(first, second);
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitGet503) {
  TearDown();
  auto o = test_options();
  o.max_connections = 2;
  start(o);
  RawSocket a(port_), b(port_);
  ASSERT_TRUE(a.connected() && b.connected());
  // Make sure both are sessions (answered) before the third connects.
  std::string got;
  ASSERT_TRUE(a.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(a.read_until(got, "\"ok\":true", 3s));
  got.clear();
  ASSERT_TRUE(b.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(b.read_until(got, "\"ok\":true", 3s));

  RawSocket c(port_);
  ASSERT_TRUE(c.connected());
  c.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  got.clear();
  EXPECT_TRUE(c.read_until_closed(got, 3s));
  EXPECT_EQ(got.rfind("HTTP/1.1 503", 0), 0u) << got;
  EXPECT_NE(got.find("Retry-After: 1"), std::string::npos) << got;
}

// A blocking handler that runs too long and an async handler that never answers: both 503.
TEST_F(HttpServerTest, HandlerOverItsTimeoutIs503) {
  TearDown();
  auto o = test_options();
  o.handler_timeout = 300ms;
  start(o);
  HttpClient c("127.0.0.1", port_);
  for (const auto& [late, fine] :
       {std::pair{"/slow", "/ok"}, std::pair{"/async/never", "/async/now"}}) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = c.get(late);
    EXPECT_EQ(r.status, 503) << late;
    EXPECT_EQ(header_of(r, "retry-after"), "1") << late;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << late;
    EXPECT_EQ(c.get(fine).status, 200) << fine;
  }
}

TEST_F(HttpServerTest, AsyncHandlersAnswerInlineOrLaterFromAnotherThread) {
  HttpClient c("127.0.0.1", port_);
  auto r = c.get("/async/now");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r).at("async"), "now");
  EXPECT_EQ(body(r).at("request_id"), r.headers.at("x-request-id"));
  // Several connections at once, each answered from its own thread, each getting its own answer.
  std::vector<std::future<std::string>> answers;
  for (int i = 0; i < 8; ++i) {
    answers.push_back(std::async(std::launch::async, [this, i] {
      HttpClient ci("127.0.0.1", port_);
      auto ri = ci.get("/async/later/" + std::to_string(i));
      return ri.status == 200 ? nlohmann::json::parse(ri.body).at("n").get<std::string>()
                              : "status " + std::to_string(ri.status);
    }));
  }
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(answers[static_cast<std::size_t>(i)].get(), std::to_string(i));
  // The first answer wins; the connection stays usable.
  r = c.get("/async/twice");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body(r).at("answer"), 1);
  EXPECT_EQ(c.get("/async/now").status, 200);
  // Exceptions map like a blocking handler's: 500 without the text, 503 + Retry-After when
  // transient.
  r = c.get("/async/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("hunter2"), std::string::npos) << r.body;
  r = c.get("/async/busy");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(header_of(r, "retry-after"), "1");
  // Auth applies before the handler runs.
  EXPECT_EQ(c.post("/async/scoped", "{}").status, 401);
}

TEST_F(HttpServerTest, GracefulStopFinishesInFlightRequestsAndClosesIdleOnes) {
  // An idle keep-alive connection and an in-flight request.
  RawSocket idle(port_);
  ASSERT_TRUE(idle.connected());
  std::string idle_got;
  ASSERT_TRUE(idle.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(idle.read_until(idle_got, "\"ok\":true", 3s));

  auto in_flight = std::async(std::launch::async, [port = port_] {
    HttpClient c("127.0.0.1", port);
    return c.get("/slow");
  });
  ASSERT_TRUE(wait_until([&] { return gate_->entered.load() == 1; }, 3s));

  const auto t0 = std::chrono::steady_clock::now();
  auto stopped = std::async(std::launch::async, [this] { server_->stop(10s); });
  // Stop accepting: new connections are refused; the idle one is closed.
  EXPECT_TRUE(wait_until([&] { return !RawSocket(port_).connected(); }, 3s));
  EXPECT_TRUE(idle.read_until_closed(idle_got, 3s));
  // The in-flight request is still running; let it finish.
  EXPECT_EQ(stopped.wait_for(100ms), std::future_status::timeout);
  open_gate();
  const auto r = in_flight.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header_of(r, "connection"), "close");
  ASSERT_EQ(stopped.wait_for(5s), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  server_->wait();  // returns at once: stopped
}

}  // namespace
}  // namespace orders::http
