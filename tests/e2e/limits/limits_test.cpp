// Limits that hold under load (issue 6, item 4): connection count (beyond the maximum: 503 and
// close, then recovery), body and header size while valid traffic flows, the Postgres pool
// exhausted (503 + Retry-After within the time-out, never a hang), the Postgres statement
// time-out, and the read-side's capped long-poll.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "tests/e2e/support/stack.hpp"

namespace orders::testing::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A plain TCP connection that sends nothing (holds a connection slot).
class IdleConnection {
 public:
  explicit IdleConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~IdleConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  IdleConnection(const IdleConnection&) = delete;
  IdleConnection& operator=(const IdleConnection&) = delete;
  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  // What the server sent so far, non-blocking; closed_ set on EOF / reset.
  void drain() {
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        received_.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed_ = true;
      return;
    }
  }
  const std::string& received() const { return received_; }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string received_;
};

// Polls every connection for `window` and drains what arrives.
void watch(std::vector<std::unique_ptr<IdleConnection>>& conns, std::chrono::milliseconds window) {
  const auto end = Clock::now() + window;
  while (Clock::now() < end) {
    std::vector<pollfd> fds;
    for (auto& c : conns) {
      if (!c->closed()) fds.push_back({c->fd(), POLLIN, 0});
    }
    if (fds.empty()) return;
    ::poll(fds.data(), fds.size(), 50);
    for (auto& c : conns) {
      if (!c->closed()) c->drain();
    }
  }
}

class Limits : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Room for > 1024 sockets in this process and in the services it starts.
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
      rl.rlim_cur = std::min<rlim_t>(8192, rl.rlim_max);
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
};

TEST_F(Limits, ConnectionsBeyondTheMaximumGet503AndTheServiceRecovers) {
  constexpr int kMax = 32;
  StackOptions so;
  so.db_hint = "limits_conn";
  so.start_read_side = false;
  so.write_env = {{"HTTP_MAX_CONNECTIONS", std::to_string(kMax)}};
  Stack stack(so);
  // The readiness probe's keep-alive connection is gone once its client is destroyed; wait until
  // the server counts no connection before filling it.
  std::vector<std::unique_ptr<IdleConnection>> held;
  for (int i = 0; i < kMax * 2; ++i) {
    held.push_back(std::make_unique<IdleConnection>(stack.write_port()));
    ASSERT_TRUE(held.back()->connected()) << "connect " << i;
  }
  watch(held, 1500ms);
  int rejected_503 = 0, closed_silently = 0, open = 0;
  for (auto& c : held) {
    if (c->received().rfind("HTTP/1.1 503", 0) == 0) {
      ++rejected_503;
      EXPECT_NE(c->received().find("application/problem+json"), std::string::npos);
      EXPECT_NE(c->received().find("Retry-After"), std::string::npos);
    } else if (c->closed()) {
      ++closed_silently;
    } else {
      ++open;
    }
  }
  std::printf(
      "[limits] %d connections to a server with max %d: held open %d, 503 %d, closed "
      "without answer %d\n",
      kMax * 2, kMax, open, rejected_503, closed_silently);
  EXPECT_LE(open, kMax) << "more connections held than the maximum";
  EXPECT_GE(rejected_503, kMax - 2) << "connections beyond the maximum should get 503";
  EXPECT_EQ(closed_silently, 0);
  {
    // While saturated, a real request gets 503 too (not a hang).
    HttpClient c("127.0.0.1", stack.write_port());
    c.set_timeout(5s);
    const auto t0 = Clock::now();
    auto r = c.post("/orders", R"({"customer_id":"during-saturation"})");
    EXPECT_LT(Clock::now() - t0, 5s);
    std::string why;
    EXPECT_TRUE(is_problem(r, 503, &why)) << why;
    EXPECT_EQ(r.headers.count("retry-after"), 1u);
  }
  held.clear();
  HttpClient c("127.0.0.1", stack.write_port());
  c.set_timeout(2s);
  EXPECT_TRUE(wait_until([&] { return c.get("/healthz").status == 200; }, 10s))
      << "the service did not recover after the connections closed";
  EXPECT_EQ(c.post("/orders", R"({"customer_id":"after-saturation"})").status, 201);
  EXPECT_EQ(
      stack.sql_int("SELECT count(*) FROM events WHERE data->>'customer_id' = 'during-saturation'"),
      0);
}

TEST_F(Limits, ReadSideDefaultConnectionLimitHoldsAndRecovers) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 4096) GTEST_SKIP() << "RLIMIT_NOFILE " << rl.rlim_cur << " is too low";
  StackOptions so;
  so.db_hint = "limits_rconn";
  Stack stack(so);
  constexpr int kConnections = 1100;  // default maximum 1024
  std::vector<std::unique_ptr<IdleConnection>> held;
  for (int i = 0; i < kConnections; ++i) {
    held.push_back(std::make_unique<IdleConnection>(stack.read_port()));
  }
  watch(held, 2000ms);
  int rejected = 0, open = 0;
  for (auto& c : held) {
    if (c->received().rfind("HTTP/1.1 503", 0) == 0 || c->closed())
      ++rejected;
    else
      ++open;
  }
  std::printf("[limits] read-side: %d connections, held %d, refused %d\n", kConnections, open,
              rejected);
  EXPECT_LE(open, 1024);
  EXPECT_GE(rejected, kConnections - 1024);
  held.clear();
  HttpClient c("127.0.0.1", stack.read_port());
  c.set_timeout(2s);
  EXPECT_TRUE(wait_until([&] { return c.get("/readyz").status == 200; }, 10s));
  EXPECT_TRUE(stack.read_process(0)->running());
}

TEST_F(Limits, BodyAndHeaderLimitsHoldUnderConcurrentLoad) {
  StackOptions so;
  so.db_hint = "limits_size";
  so.start_read_side = false;
  so.write_env = {{"BODY_LIMIT_BYTES", "4096"}};
  Stack stack(so);
  const auto before = stack.events_count();

  // The configured limit, exactly: 4096 bytes pass, 4097 do not.
  auto padded = [](std::size_t size, const std::string& customer) {
    std::string body = R"({"customer_id":")" + customer + "\"}";
    return body + std::string(size - body.size(), ' ');
  };
  {
    HttpClient c("127.0.0.1", stack.write_port());
    EXPECT_EQ(c.post("/orders", padded(4096, "at-limit")).status, 201);
    HttpClient d("127.0.0.1", stack.write_port());
    auto r = d.post("/orders", padded(4097, "over-limit"));
    std::string why;
    EXPECT_TRUE(is_problem(r, 413, &why)) << why;
  }

  std::atomic<int> ok{0}, too_large{0}, header_too_large{0}, other{0};
  std::mutex mu;
  std::vector<std::string> others;
  auto worker = [&](int index) {
    const auto end = Clock::now() + 6s;
    HttpClient c("127.0.0.1", stack.write_port());
    c.set_timeout(10s);
    for (int n = 0; Clock::now() < end; ++n) {
      HttpResult r;
      int expected = 0;
      switch ((index + n) % 3) {
        case 0:
          r = c.post("/orders", R"({"customer_id":"load-)" + std::to_string(index) + "\"}");
          expected = 201;
          break;
        case 1:
          r = c.post("/orders", padded(64 * 1024, "too-big"));
          expected = 413;
          break;
        default:
          r = c.request("GET", "/healthz", "", {{"X-Big", std::string(20000, 'h')}});
          expected = 431;
          break;
      }
      if (r.status == expected && expected == 201)
        ++ok;
      else if (r.status == expected && expected == 413)
        ++too_large;
      else if (r.status == expected && expected == 431)
        ++header_too_large;
      else {
        ++other;
        std::lock_guard lock(mu);
        if (others.size() < 10)
          others.push_back(std::to_string(expected) + " expected, got " + std::to_string(r.status));
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) threads.emplace_back(worker, i);
  for (auto& t : threads) t.join();
  std::printf("[limits] size limits under load: 201=%d 413=%d 431=%d other=%d\n", ok.load(),
              too_large.load(), header_too_large.load(), other.load());
  for (const auto& o : others) std::printf("  %s\n", o.c_str());
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(too_large.load(), 0);
  EXPECT_GT(header_too_large.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(stack.sql_int("SELECT count(*) FROM events WHERE data->>'customer_id' = 'too-big'"), 0);
  EXPECT_EQ(stack.events_count(), before + 1 + ok.load());
}

// Runs `n` concurrent requests; returns (status, seconds, retry-after present) per request.
struct Timed {
  int status = 0;
  double seconds = 0;
  bool retry_after = false;
  bool problem = false;
};
std::vector<Timed> concurrent(int port, int n,
                              const std::function<HttpResult(HttpClient&, int)>& fn,
                              std::chrono::milliseconds client_timeout) {
  std::vector<std::future<Timed>> futures;
  for (int i = 0; i < n; ++i) {
    futures.push_back(std::async(std::launch::async, [=] {
      HttpClient c("127.0.0.1", port);
      c.set_timeout(client_timeout);
      const auto t0 = Clock::now();
      auto r = fn(c, i);
      Timed t;
      t.status = r.status;
      t.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      t.retry_after = r.headers.count("retry-after") == 1;
      std::string why;
      t.problem = r.status >= 400 && is_problem(r, r.status, &why);
      return t;
    }));
  }
  std::vector<Timed> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

std::string summarize(const std::vector<Timed>& results) {
  std::map<int, int> by_status;
  double worst = 0;
  for (const auto& t : results) {
    ++by_status[t.status];
    worst = std::max(worst, t.seconds);
  }
  std::string s;
  for (const auto& [st, n] : by_status) s += " " + std::to_string(st) + "=" + std::to_string(n);
  return s + " slowest=" + std::to_string(worst) + "s";
}

// PG_POOL_SIZE=2 and a table lock that makes every statement wait: each request (queries and
// commands) gets 503 + Retry-After within the pool's acquire time-out or the statement time-out,
// never a hang or a 500; nothing is stored; after the lock the service serves again.
TEST_F(Limits, WriteSidePoolExhaustedAndStatementTimeoutAnswer503NotHang) {
  StackOptions so;
  so.db_hint = "limits_pool";
  so.start_read_side = false;
  so.write_env = {{"PG_POOL_SIZE", "2"},
                  {"PG_STATEMENT_TIMEOUT_MS", "1500"},
                  {"GROUP_COMMIT_CONNECTIONS", "1"}};
  Stack stack(so);
  HttpClient w("127.0.0.1", stack.write_port());
  ASSERT_EQ(w.post("/orders", R"({"order_id":"pool-1","customer_id":"c"})").status, 201);
  const auto before = stack.events_count();

  pqxx::connection blocker(stack.db_url());
  pqxx::work lock_tx(blocker);
  lock_tx.exec("LOCK TABLE events IN ACCESS EXCLUSIVE MODE");

  auto queries = std::async(std::launch::async, [&] {
    return concurrent(
        stack.write_port(), 24, [](HttpClient& c, int) { return c.get("/orders/pool-1/state"); },
        20s);
  });
  auto commands = std::async(std::launch::async, [&] {
    return concurrent(
        stack.write_port(), 8,
        [](HttpClient& c, int i) {
          return c.post("/orders", R"({"order_id":"pool-new-)" + std::to_string(i) +
                                       R"(","customer_id":"c"})");
        },
        20s);
  });
  // Health does not need the database and stays quick while the pool is starved.
  HttpClient h("127.0.0.1", stack.write_port());
  h.set_timeout(3s);
  EXPECT_EQ(h.get("/healthz").status, 200);

  const auto q = queries.get();
  const auto c = commands.get();
  lock_tx.abort();
  std::printf("[limits] pool exhausted, queries:%s\n", summarize(q).c_str());
  std::printf("[limits] pool exhausted, commands:%s\n", summarize(c).c_str());
  for (const auto* set : {&q, &c}) {
    for (const auto& t : *set) {
      EXPECT_EQ(t.status, 503);
      EXPECT_TRUE(t.retry_after);
      EXPECT_TRUE(t.problem);
      EXPECT_LT(t.seconds, 8.0) << "answered only after " << t.seconds << " s";
    }
  }
  EXPECT_EQ(stack.events_count(), before) << "a 503 command stored events";
  // Recovery.
  EXPECT_TRUE(wait_until([&] { return w.get("/orders/pool-1/state").status == 200; }, 10s));
  EXPECT_EQ(w.post("/orders", R"({"order_id":"pool-2","customer_id":"c"})").status, 201);
  EXPECT_EQ(stack.write_log().find("request failed: unexpected error"), std::string::npos);
}

// The same on the read-side: PG_POOL_SIZE=1 and a lock on its query table.
TEST_F(Limits, ReadSidePoolExhaustedAnswers503NotHang) {
  StackOptions so;
  so.db_hint = "limits_rpool";
  so.read_env = {{"PG_POOL_SIZE", "1"}};
  Stack stack(so);
  HttpClient w("127.0.0.1", stack.write_port());
  ASSERT_EQ(w.post("/orders", R"({"order_id":"rp-1","customer_id":"c"})").status, 201);
  HttpClient r("127.0.0.1", stack.read_port());
  ASSERT_EQ(r.get("/orders/rp-1?min_version=1&wait_ms=10000").status, 200);

  pqxx::connection blocker(stack.db_url());
  pqxx::work lock_tx(blocker);
  lock_tx.exec("LOCK TABLE orders, customer_orders IN ACCESS EXCLUSIVE MODE");
  const auto results = concurrent(
      stack.read_port(), 12,
      [](HttpClient& c, int i) { return c.get(i % 2 == 0 ? "/orders/rp-1" : "/customers/c"); },
      15s);
  lock_tx.abort();
  std::printf("[limits] read-side pool exhausted:%s\n", summarize(results).c_str());
  for (const auto& t : results) {
    EXPECT_EQ(t.status, 503);
    EXPECT_TRUE(t.retry_after);
    EXPECT_TRUE(t.problem);
    EXPECT_LT(t.seconds, 8.0) << "answered only after " << t.seconds
                              << " s (no statement time-out?)";
  }
  EXPECT_TRUE(wait_until([&] { return r.get("/orders/rp-1").status == 200; }, 35s));
}

// Per-request time-out of the read-side long-poll: wait_ms is honoured and capped at 10 s.
TEST_F(Limits, ReadSideLongPollIsBoundedByItsCap) {
  StackOptions so;
  so.db_hint = "limits_poll";
  Stack stack(so);
  auto timed = [&](const std::string& target) {
    HttpClient c("127.0.0.1", stack.read_port());
    c.set_timeout(20s);
    const auto t0 = Clock::now();
    auto r = c.get(target);
    return std::pair{r, std::chrono::duration<double>(Clock::now() - t0).count()};
  };
  auto short_wait =
      std::async(std::launch::async, timed, "/orders/nobody?min_version=1&wait_ms=1500");
  auto huge_wait =
      std::async(std::launch::async, timed, "/orders/nobody?min_version=1&wait_ms=999999999");
  auto [r1, s1] = short_wait.get();
  auto [r2, s2] = huge_wait.get();
  std::printf(
      "[limits] long-poll: wait_ms=1500 -> %d after %.2fs; wait_ms=999999999 -> %d after %.2fs\n",
      r1.status, s1, r2.status, s2);
  std::string why;
  EXPECT_TRUE(is_problem(r1, 503, &why)) << why;
  EXPECT_EQ(r1.headers.count("retry-after"), 1u);
  EXPECT_GE(s1, 1.4);
  EXPECT_LT(s1, 4.0);
  EXPECT_TRUE(is_problem(r2, 503, &why)) << why;
  EXPECT_GE(s2, 9.5);
  EXPECT_LT(s2, 13.0);
}

}  // namespace
}  // namespace orders::testing::e2e
