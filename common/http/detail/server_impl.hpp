// The state of one http::Server and its phases, shared by server.cpp (accepting, start/stop),
// session.cpp (one connection: read, answer, close) and dispatch.cpp (one request: route, auth,
// the handler, its failures). Not part of the interface.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/http/request_id.hpp"
#include "common/http/server.hpp"

namespace orders::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct SessionCtx {
  explicit SessionCtx(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  bool idle = false;  // waiting for the first byte of a request; touched only on the session strand
};

// What reading one request from a connection gave.
struct ReadRequest {
  bhttp::request<bhttp::string_body> message;
};
struct ReadFailed {
  Response response;   // answer it, then close
  std::string method;  // when the head was read
};
struct Disconnect {};  // the client went away or was too slow: close without an answer
using ReadOutcome = std::variant<ReadRequest, ReadFailed, Disconnect>;

struct Server::Impl {
  Impl(ServerOptions o, Router r, log::Logger& l, metrics::Registry& m);

  ServerOptions opts;
  Router router;
  log::Logger& logger;
  metrics::Registry& metrics;

  asio::io_context ioc;
  asio::strand<asio::io_context::executor_type> accept_strand;
  tcp::acceptor acceptor;
  asio::executor_work_guard<asio::io_context::executor_type> work_guard;
  std::optional<asio::thread_pool> workers;
  std::vector<std::thread> io_threads;
  std::uint16_t bound_port = 0;

  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;
  std::size_t connections = 0;  // guarded by mu
  std::uint64_t next_session = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<SessionCtx>> sessions;
  bool started = false;
  bool stopped = false;
  std::mutex stop_mu;
  RequestIds request_ids;

  // server.cpp: accepting and the session registry.
  asio::awaitable<void> accept_loop();
  void session_ended(std::uint64_t id);

  // session.cpp: one connection.
  asio::awaitable<void> session(std::shared_ptr<SessionCtx> ctx, std::uint64_t id);
  asio::awaitable<ReadOutcome> read_request(beast::tcp_stream& stream, beast::flat_buffer& buffer);
  asio::awaitable<bool> write_response(beast::tcp_stream& stream, Response res,
                                       const std::string& request_id, unsigned version, bool close);
  asio::awaitable<void> reject_busy(tcp::socket socket);
  static asio::awaitable<void> linger_close(beast::tcp_stream& stream);

  // dispatch.cpp: one request.
  asio::awaitable<Response> handle(Request& req);
  Response invoke(const Handler& handler, const Request& req);
  Response failure_response(const Request& req, const std::exception_ptr& ep);

  // access_log.cpp
  // trace_id "" (a request that could not be read): no trace_id field.
  void access_log(const std::string& request_id, const std::string& method,
                  const std::string& route, int status,
                  std::chrono::steady_clock::time_point started, const std::string& trace_id = {});
  void count_request(const std::string& method, const std::string& route, int status,
                     double seconds);
};

}  // namespace orders::http
