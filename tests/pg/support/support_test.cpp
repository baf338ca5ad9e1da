// The test-support library itself: real PostgreSQL and nats-server start, restart and keep data;
// child processes and the HTTP client behave as the other tests rely on.
#include <signal.h>

#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "tests/support/services.hpp"

namespace orders::testing {
namespace {

using namespace std::chrono_literals;

TEST(PgServerTest, CreatesDatabasesAndKeepsDataAcrossRestart) {
  PgServer pg;
  EXPECT_GT(pg.port(), 0);
  std::string a = pg.create_database("support-test");
  std::string b = pg.create_database("support-test");
  EXPECT_NE(a, b);
  pg.psql(a, "CREATE TABLE t (id int primary key, v text)");
  pg.psql(a, "INSERT INTO t VALUES (1, 'one'), (2, NULL)");
  EXPECT_EQ(pg.psql(a, "SELECT id, v FROM t ORDER BY id"), "1\tone\n2\t");
  EXPECT_EQ(pg.psql(pg.url(), "SHOW fsync"), "on");
  EXPECT_EQ(pg.psql(pg.url(), "SHOW max_connections"), "300");

  pg.restart();
  EXPECT_EQ(pg.psql(a, "SELECT count(*) FROM t"), "2");

  pg.stop();
  EXPECT_THROW(pg.psql(a, "SELECT 1"), std::exception);
  pg.start();
  EXPECT_EQ(pg.psql(a, "SELECT v FROM t WHERE id = 1"), "one");
}

TEST(PgServerTest, SharedClusterIsReused) {
  PgServer& first = shared_pg();
  PgServer& second = shared_pg();
  EXPECT_EQ(&first, &second);
  std::string url = first.create_database("shared");
  EXPECT_EQ(first.psql(url, "SELECT current_database() LIKE 'shared_%'"), "t");
}

bool nats_accepts(int port) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
  if (ec) return false;
  boost::asio::streambuf buf;
  boost::asio::read_until(s, buf, "\r\n", ec);  // nats-server greets with INFO {...}
  std::string line(boost::asio::buffers_begin(buf.data()), boost::asio::buffers_end(buf.data()));
  return !ec && line.rfind("INFO ", 0) == 0 && line.find("\"jetstream\":true") != std::string::npos;
}

TEST(NatsServerTest, StartsKillsAndRestartsOnTheSamePort) {
  NatsServer nats;
  EXPECT_TRUE(nats.running());
  EXPECT_EQ(nats.url(), "nats://127.0.0.1:" + std::to_string(nats.port()));
  EXPECT_TRUE(nats_accepts(nats.port()));
  nats.kill9();
  EXPECT_FALSE(nats.running());
  EXPECT_FALSE(nats_accepts(nats.port()));
  nats.start();
  EXPECT_TRUE(nats.running());
  EXPECT_TRUE(nats_accepts(nats.port()));
  nats.stop();
  EXPECT_FALSE(nats.running());
  nats.start();
  EXPECT_TRUE(nats_accepts(nats.port()));
}

TEST(ProcessTest, EnvironmentLogAndExitCode) {
  Process p("/bin/sh", {"-c", "echo \"value=$SUPPORT_TEST_VAR\"; echo err >&2; exit 3"},
            {{"SUPPORT_TEST_VAR", "hello"}});
  auto code = p.wait(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 3);
  EXPECT_FALSE(p.running());
  EXPECT_NE(p.log().find("value=hello"), std::string::npos);
  EXPECT_NE(p.log().find("err"), std::string::npos);
}

TEST(ProcessTest, Kill9AndTimeout) {
  Process p("/bin/sleep", {"30"}, {});
  EXPECT_TRUE(p.running());
  EXPECT_FALSE(p.wait(50ms).has_value());
  p.kill9();
  EXPECT_FALSE(p.running());
  EXPECT_EQ(p.wait(0ms), 128 + SIGKILL);
}

TEST(ProcessTest, MissingBinaryThrows) {
  EXPECT_THROW(Process("/nonexistent/binary", {}, {}), std::exception);
}

TEST(WaitUntilTest, ReturnsTrueWhenConditionHoldsAndFalseOnDeadline) {
  int n = 0;
  EXPECT_TRUE(wait_until([&] { return ++n >= 3; }, 1s, 1ms));
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(wait_until([] { return false; }, 50ms, 5ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
}

TEST(FreePortTest, DistinctPorts) {
  int a = free_port();
  int b = free_port();
  EXPECT_NE(a, b);
  EXPECT_GT(a, 0);
}

// A tiny HTTP server written in shell would need extra tools; nats-server's port answers with
// INFO, which is not HTTP, so use a python-free approach: a one-shot Asio server in a thread.
class OneShotHttpServer {
 public:
  explicit OneShotHttpServer(std::string response, int connections)
      : acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, response = std::move(response), connections] {
      for (int i = 0; i < connections; ++i) {
        boost::asio::ip::tcp::socket s(ioc_);
        boost::system::error_code ec;
        acceptor_.accept(s, ec);
        if (ec) return;
        boost::asio::streambuf buf;
        boost::asio::read_until(s, buf, "\r\n\r\n", ec);
        boost::asio::write(s, boost::asio::buffer(response), ec);
        s.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
      }
    });
  }
  ~OneShotHttpServer() { thread_.join(); }
  int port() const { return port_; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::thread thread_;
};

TEST(HttpClientTest, ParsesResponseAndReconnectsAfterServerClose) {
  // Each connection is answered once with keep-alive promised, then closed by the server: the
  // second request must transparently reconnect.
  OneShotHttpServer server(
      "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Thing: a\r\n"
      "Content-Length: 11\r\n\r\n{\"ok\":true}",
      2);
  HttpClient client("127.0.0.1", server.port());
  auto first = client.post("/x", "{}");
  EXPECT_EQ(first.status, 201);
  EXPECT_EQ(first.json()["ok"], true);
  EXPECT_EQ(first.headers["x-thing"], "a");
  auto second = client.get("/y");
  EXPECT_EQ(second.status, 201);
}

TEST(HttpClientTest, UnreachableServerGivesStatusZero) {
  HttpClient client("127.0.0.1", free_port());
  EXPECT_EQ(client.get("/readyz").status, 0);
  EXPECT_EQ(client.raw("GET / HTTP/1.1\r\n\r\n", 200ms), "");
}

TEST(HttpClientTest, RawReturnsBytesUntilClose) {
  OneShotHttpServer server("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 1);
  HttpClient client("127.0.0.1", server.port());
  std::string reply = client.raw("GARBAGE\r\n\r\n", 5s);
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
}

TEST(StartServiceTest, ThrowsWithLogWhenTheBinaryExits) {
  try {
    start_service("/bin/sh", {"-c", "echo boom; exit 2"}, {}, free_port(), 5s);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("boom"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace orders::testing
