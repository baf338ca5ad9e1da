// The session loop moves bytes and enforces limits; handlers run on a separate worker pool.
#include "common/http/server.hpp"

#include <pthread.h>
#include <signal.h>

#include <array>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"

namespace orders::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kLingerMaxBytes = 8 * 1024 * 1024;
constexpr auto kLingerTime = std::chrono::milliseconds(1000);

struct SessionCtx {
  explicit SessionCtx(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  bool idle = false;  // waiting for the first byte of a request; touched only on the session strand
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string describe(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "non-standard exception";
  }
}

std::string metric_method(const std::string& m) {
  static constexpr std::array<std::string_view, 7> known = {"GET",   "POST",    "PUT", "DELETE",
                                                            "PATCH", "OPTIONS", "HEAD"};
  for (auto k : known)
    if (m == k) return m;
  return "OTHER";
}

Response with_retry_after(Response r) {
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

// Shared between a session waiting for a handler and the worker running it.
struct Pending {
  explicit Pending(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::optional<Response> result;
  bool decided = false;  // the session stopped waiting (strand-protected)
};

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, Router r, log::Logger& l, metrics::Registry& m)
      : opts(std::move(o)),
        router(std::move(r)),
        logger(l),
        metrics(m),
        ioc(static_cast<int>(std::max<std::size_t>(1, opts.io_threads))),
        accept_strand(asio::make_strand(ioc)),
        acceptor(accept_strand),
        work_guard(asio::make_work_guard(ioc)) {
    std::random_device rd;
    char buf[24];
    std::snprintf(buf, sizeof buf, "%08x%04x", rd(), rd() & 0xffffu);
    id_prefix = buf;
  }

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

  std::string id_prefix;
  std::atomic<std::uint64_t> id_counter{0};

  std::string new_request_id() {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%s-%08llx", id_prefix.c_str(),
                  static_cast<unsigned long long>(id_counter.fetch_add(1) + 1));
    return buf;
  }

  // ---- accepting ----
  asio::awaitable<void> accept_loop() {
    while (!stopping.load()) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), use_tuple);
      if (ec) {
        if (stopping.load() || !acceptor.is_open() || ec == asio::error::operation_aborted)
          co_return;
        // EMFILE and friends: back off a little instead of spinning.
        logger.warn("accept failed", {{"error", ec.message()}});
        asio::steady_timer t(accept_strand, std::chrono::milliseconds(50));
        co_await t.async_wait(use_tuple);
        continue;
      }
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::shared_ptr<SessionCtx> ctx;
      std::uint64_t id = 0;
      {
        std::lock_guard lock(mu);
        if (connections < opts.max_connections) {
          ctx = std::make_shared<SessionCtx>(std::move(socket));
          id = ++next_session;
          ++connections;
          sessions[id] = ctx;
        }
      }
      if (!ctx) {
        auto ex = socket.get_executor();
        asio::co_spawn(ex, reject_busy(std::move(socket)), asio::detached);
        continue;
      }
      auto ex = ctx->stream.get_executor();
      asio::co_spawn(ex, session(std::move(ctx), id), asio::detached);
    }
  }

  void session_ended(std::uint64_t id) {
    {
      std::lock_guard lock(mu);
      sessions.erase(id);
      --connections;
    }
    cv.notify_all();
  }

  // ---- writing and closing ----
  static asio::awaitable<void> linger_close(beast::tcp_stream& stream) {
    // Half-close, then drain what the client still sends, so the kernel does not answer its unread
    // bytes with a RST that would destroy our response before the client reads it.
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(kLingerTime);
    std::array<char, 16 * 1024> sink;
    std::size_t total = 0;
    while (total < kLingerMaxBytes) {
      auto [e, n] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
      if (e) break;
      total += n;
    }
    stream.socket().close(ec);
  }

  static void set_common(bhttp::response<bhttp::string_body>& out, Response& res,
                         const std::string& request_id, bool close) {
    out.result(static_cast<unsigned>(res.status));
    out.set(bhttp::field::content_type, res.content_type);
    if (!request_id.empty()) out.set("X-Request-Id", request_id);
    for (auto& [k, v] : res.headers) out.insert(k, v);
    out.body() = std::move(res.body);
    out.keep_alive(!close);
    out.content_length(out.body().size());
  }

  asio::awaitable<bool> write_response(beast::tcp_stream& stream, Response res,
                                       const std::string& request_id, unsigned version,
                                       bool close) {
    bhttp::response<bhttp::string_body> out;
    out.version(version);
    set_common(out, res, request_id, close);
    stream.expires_after(opts.request_read_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream, out, use_tuple);
    co_return !ec;
  }

  asio::awaitable<void> reject_busy(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    Response res = with_retry_after(problem(503, "overloaded", "Service unavailable",
                                            "the server is at its connection limit; retry later"));
    const std::string rid = new_request_id();
    logger.warn("connection refused: connection limit",
                {{"request_id", rid}, {"max_connections", opts.max_connections}});
    count_request("OTHER", "unmatched", 503, 0.0);
    co_await write_response(stream, std::move(res), rid, 11, true);
    co_await linger_close(stream);
  }

  void count_request(const std::string& method, const std::string& route, int status,
                     double seconds) {
    metrics
        .counter("http_requests_total", "HTTP requests by method, route and status",
                 {{"method", method}, {"route", route}, {"status", std::to_string(status)}})
        .inc();
    metrics
        .histogram("http_request_duration_seconds", "HTTP request latency by route",
                   {{"route", route}})
        .observe(seconds);
  }

  void access_log(const std::string& request_id, const std::string& method,
                  const std::string& route, int status,
                  std::chrono::steady_clock::time_point started) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    count_request(metric_method(method), route, status, seconds);
    if (logger.enabled(log::Level::Info)) {
      logger.info("request", {{"request_id", request_id},
                              {"method", method},
                              {"route", route},
                              {"status", status},
                              {"duration_ms", std::round(seconds * 1e6) / 1e3}});
    }
  }

  // ---- one connection ----
  asio::awaitable<void> session(std::shared_ptr<SessionCtx> ctx, std::uint64_t id) {
    auto& stream = ctx->stream;
    beast::flat_buffer buffer;
    bool first = true;
    try {
      for (;;) {
        if (buffer.size() == 0) {
          // Waiting for the next request: a fresh connection gets the request deadline, a
          // keep-alive one the idle timeout. stop() cancels connections parked here.
          if (stopping.load()) break;
          ctx->idle = true;
          stream.expires_after(first ? opts.request_read_timeout : opts.idle_timeout);
          auto [ec, n] = co_await stream.async_read_some(buffer.prepare(8 * 1024), use_tuple);
          ctx->idle = false;
          if (ec) break;
          buffer.commit(n);
        }
        first = false;
        const auto started = std::chrono::steady_clock::now();
        stream.expires_after(opts.request_read_timeout);  // the whole head + body
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(
            static_cast<std::uint32_t>(std::min<std::size_t>(opts.header_limit, UINT32_MAX)));
        parser.body_limit(opts.body_limit);

        auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
        beast::error_code ec = hec;
        if (!ec && !parser.is_done()) {
          if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
            bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_,
                                                    parser.get().version()};
            auto [wec, wn] = co_await bhttp::async_write(stream, cont, use_tuple);
            if (wec) break;
          }
          auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
          ec = bec;
        }
        if (ec) {
          const std::string rid = new_request_id();
          const std::string method =
              parser.is_header_done() ? std::string(parser.get().method_string()) : "";
          Response res;
          if (ec == bhttp::error::header_limit) {
            res =
                problem(431, "header-too-large", "Request header fields too large",
                        "the request head exceeds " + std::to_string(opts.header_limit) + " bytes");
          } else if (ec == bhttp::error::body_limit) {
            res = problem(413, "payload-too-large", "Payload too large",
                          "the request body exceeds " + std::to_string(opts.body_limit) + " bytes");
          } else if (ec == beast::error::timeout || ec == bhttp::error::end_of_stream ||
                     ec == bhttp::error::partial_message || ec == asio::error::eof ||
                     ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
            if (ec == beast::error::timeout) {
              logger.info("slow client disconnected",
                          {{"request_id", rid}, {"timeout_ms", opts.request_read_timeout.count()}});
            }
            break;
          } else {
            res = problem(400, "bad-request", "Bad request", "malformed HTTP request");
          }
          const int status = res.status;
          co_await write_response(stream, std::move(res), rid, 11, true);
          access_log(rid, method, "unmatched", status, started);
          co_await linger_close(stream);
          break;
        }

        stream.expires_never();  // handler time is bounded by handler_timeout
        auto msg = parser.release();
        Request req;
        req.method = std::string(msg.method_string());
        req.target = std::string(msg.target());
        for (const auto& field : msg) {
          std::string name = lower(field.name_string());
          auto [it, inserted] =
              req.headers.try_emplace(std::move(name), std::string(field.value()));
          if (!inserted) {
            it->second += ", ";
            it->second += std::string(field.value());
          }
        }
        req.body = std::move(msg.body());
        auto rid = req.header("x-request-id");
        req.request_id = rid && sane_request_id(*rid) ? *rid : new_request_id();

        Response res = co_await handle(req);
        const bool close = !msg.keep_alive() || stopping.load();
        const int status = res.status;
        const bool written =
            co_await write_response(stream, std::move(res), req.request_id, msg.version(), close);
        access_log(req.request_id, req.method, req.route.empty() ? "unmatched" : req.route, status,
                   started);
        if (!written) break;
        if (close) {
          beast::error_code ignored;
          stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
          break;
        }
      }
    } catch (const std::exception& e) {
      logger.error("session failed", {{"error", e.what()}});
    }
    beast::error_code ignored;
    stream.socket().close(ignored);
    session_ended(id);
  }

  // ---- one request: routing, auth, the handler on the worker pool ----
  asio::awaitable<Response> handle(Request& req) {
    if (!parse_target(req)) {
      co_return problem(400, "bad-request", "Bad request",
                        "malformed request target (bad percent-encoding or NUL byte)");
    }
    const auto match = router.match(req);
    if (match.status == 404) co_return problem(404, "not-found", "Not found", "no such resource");
    if (match.status == 405) {
      Response res = problem(405, "method-not-allowed", "Method not allowed",
                             "allowed methods: " + match.allow);
      res.headers.emplace_back("Allow", match.allow);
      co_return res;
    }
    if (auto denied = check_auth(req, match.scope)) co_return std::move(*denied);

    auto exec = co_await asio::this_coro::executor;
    auto pending = std::make_shared<Pending>(exec);
    pending->timer.expires_after(opts.handler_timeout);
    // Hands the response to this session's strand; the first one wins.
    auto deliver = [pending, exec](Response r) {
      asio::post(exec, [pending, r = std::move(r)]() mutable {
        if (pending->decided || pending->result) return;
        pending->result = std::move(r);
        pending->timer.cancel();
      });
    };
    if (match.async_handler) {
      try {
        (*match.async_handler)(req, deliver);
      } catch (...) {
        deliver(failure_response(req, std::current_exception()));
      }
    } else {
      const Handler* handler = match.handler;
      asio::co_spawn(
          *workers,
          [this, handler, req]() -> asio::awaitable<Response> { co_return invoke(*handler, req); },
          [deliver](std::exception_ptr, Response r) { deliver(std::move(r)); });
    }
    co_await pending->timer.async_wait(use_tuple);
    pending->decided = true;
    if (pending->result) co_return std::move(*pending->result);
    logger.warn("handler timed out", {{"request_id", req.request_id},
                                      {"route", req.route},
                                      {"timeout_ms", opts.handler_timeout.count()}});
    co_return with_retry_after(
        problem(503, "timeout", "Service unavailable", "the request took too long; retry later"));
  }

  std::optional<Response> check_auth(const Request& req, const std::string& scope) const {
    if (scope == "public") return std::nullopt;
    auto it = opts.tokens.find(scope);
    if (it == opts.tokens.end() || it->second.empty()) return std::nullopt;
    const auto header = req.header("authorization");
    constexpr std::string_view kBearer = "bearer ";
    if (!header || header->size() < kBearer.size() ||
        lower(header->substr(0, kBearer.size())) != kBearer) {
      Response res = problem(401, "unauthorized", "Unauthorized", "a bearer token is required");
      res.headers.emplace_back("WWW-Authenticate", "Bearer");
      return res;
    }
    std::string_view token(*header);
    token.remove_prefix(kBearer.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (!constant_time_equals(token, it->second)) {
      return problem(403, "forbidden", "Forbidden", "the bearer token does not grant this scope");
    }
    return std::nullopt;
  }

  Response invoke(const Handler& handler, const Request& req) {
    try {
      return handler(req);
    } catch (...) {
      return failure_response(req, std::current_exception());
    }
  }

  // The answer to a handler's exception: 503 when worth a retry, else 500 (details only logged).
  Response failure_response(const Request& req, const std::exception_ptr& ep) {
    if (is_transient_failure(ep)) {
      logger.warn("request failed: dependency unavailable",
                  {{"request_id", req.request_id}, {"route", req.route}, {"error", describe(ep)}});
      return with_retry_after(problem(503, "unavailable", "Service unavailable",
                                      "a dependency is unavailable or busy; retry later"));
    }
    logger.error("request failed: unexpected error",
                 {{"request_id", req.request_id}, {"route", req.route}, {"error", describe(ep)}});
    return problem(500, "internal", "Internal server error",
                   "unexpected error; see the server log for request " + req.request_id);
  }
};

Server::Server(ServerOptions options, Router router, log::Logger& logger,
               metrics::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router), logger, metrics)) {}

Server::~Server() {
  try {
    stop(std::chrono::milliseconds(1000));
  } catch (...) {
  }
}

void Server::start() {
  auto& im = *impl_;
  std::lock_guard stop_lock(im.stop_mu);
  if (im.started) throw std::logic_error("Server::start called twice");
  const tcp::endpoint endpoint(asio::ip::make_address(im.opts.address), im.opts.port);
  im.acceptor.open(endpoint.protocol());
  im.acceptor.set_option(asio::socket_base::reuse_address(true));
  im.acceptor.bind(endpoint);
  im.acceptor.listen(asio::socket_base::max_listen_connections);
  im.bound_port = im.acceptor.local_endpoint().port();
  im.workers.emplace(std::max<std::size_t>(1, im.opts.worker_threads));
  asio::co_spawn(im.accept_strand, im.accept_loop(), asio::detached);
  for (std::size_t i = 0; i < std::max<std::size_t>(1, im.opts.io_threads); ++i) {
    im.io_threads.emplace_back([&im] {
      for (;;) {
        try {
          im.ioc.run();
          return;
        } catch (const std::exception& e) {
          im.logger.error("io thread caught an exception", {{"error", e.what()}});
        }
      }
    });
  }
  im.started = true;
  im.logger.info(
      "http server listening",
      {{"address", im.opts.address}, {"port", im.bound_port}, {"service", im.opts.service_name}});
}

std::uint16_t Server::port() const {
  return impl_->bound_port;
}

void Server::stop(std::chrono::milliseconds grace) {
  auto& im = *impl_;
  std::lock_guard stop_lock(im.stop_mu);
  if (!im.started || im.stopped) return;
  im.stopping.store(true);
  const auto deadline = std::chrono::steady_clock::now() + grace;

  auto for_each_session = [&im](auto fn) {
    std::vector<std::shared_ptr<SessionCtx>> live;
    {
      std::lock_guard lock(im.mu);
      for (auto& [id, weak] : im.sessions)
        if (auto s = weak.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) {
      asio::post(s->stream.get_executor(), [s, fn] { fn(*s); });
    }
  };

  // 1. Stop accepting; close connections parked between requests.
  asio::post(im.accept_strand, [&im] {
    beast::error_code ignored;
    im.acceptor.close(ignored);
  });
  for_each_session([](SessionCtx& s) {
    if (s.idle) s.stream.cancel();
  });
  // 2. Let in-flight requests finish (each closes its connection after its response).
  {
    std::unique_lock lock(im.mu);
    im.cv.wait_until(lock, deadline, [&im] { return im.connections == 0; });
  }
  // 3. Past the grace period: close whatever is left.
  for_each_session([](SessionCtx& s) {
    beast::error_code ignored;
    s.stream.socket().close(ignored);
  });
  {
    std::unique_lock lock(im.mu);
    im.cv.wait_for(lock, std::chrono::milliseconds(500), [&im] { return im.connections == 0; });
  }
  im.work_guard.reset();
  im.ioc.stop();
  for (auto& t : im.io_threads) t.join();
  im.io_threads.clear();
  if (im.workers) {
    im.workers->stop();
    im.workers->join();
  }
  im.logger.info("http server stopped", {{"service", im.opts.service_name}});
  {
    std::lock_guard lock(im.mu);
    im.stopped = true;
  }
  im.cv.notify_all();
}

void Server::wait() {
  auto& im = *impl_;
  std::unique_lock lock(im.mu);
  im.cv.wait(lock, [&im] { return im.stopped; });
}

bool sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

void wait_for_termination_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  sigwait(&set, &sig);
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  // Time depends only on the lengths, never on where the first difference is.
  const std::size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < n; ++i) {
    const auto ca = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto cb = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff |= static_cast<unsigned>(ca ^ cb);
  }
  return diff == 0;
}

}  // namespace orders::http
