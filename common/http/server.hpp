// HTTP/1.1 server on Boost.Beast: coroutine sessions on a small I/O thread pool; handlers are plain
// blocking functions run on a separate worker pool, or non-blocking AsyncHandlers that answer later
// through a callback. The server enforces the limits (header 431, body 413, connections 503, a
// deadline per request, keep-alive idle time, handler time 503), routes (404 / 405), checks bearer
// scopes (401 / 403), and answers a handler's exception with 503 when ServerOptions::is_transient
// says so, else 500 (the text only logged). Every request gets a request id, a W3C trace context
// (trace_context.hpp; its traceparent is echoed), an access-log line and metrics. All its errors
// come from the problem table (common/http/problem.hpp).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/http/trace_context.hpp"

namespace orders::log {
class Logger;
}
namespace orders::metrics {
class Registry;
}

namespace orders::http {

struct Request {
  std::string method;                              // "GET", "POST", ...
  std::string target;                              // raw target, "/orders/a1/items?x=1"
  std::string path;                                // percent-decoded path without the query
  std::map<std::string, std::string> query;        // percent-decoded; last value wins
  std::map<std::string, std::string> path_params;  // from the route pattern, percent-decoded
  std::map<std::string, std::string> headers;      // lower-case names
  std::string body;
  std::string request_id;
  TraceContext trace;  // from a valid `traceparent`, else a new trace; always a new span
  std::string route;   // the matched pattern, "/orders/{id}/items" (for metrics/logs)

  std::optional<std::string> header(std::string_view lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Location, ...)
};

// Response helpers (errors: problem() in common/http/problem.hpp).
Response json_response(int status, const nlohmann::json& body);
// Any other body (e.g. /metrics: "text/plain; version=0.0.4; charset=utf-8").
Response text_response(int status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8");

// Percent-decoding ("%2F" -> "/"). nullopt on a malformed escape or a decoded NUL byte.
// plus_as_space: query strings ("a+b" -> "a b"); path segments keep '+'.
std::optional<std::string> percent_decode(std::string_view s, bool plus_as_space = false);
// Fills req.path and req.query from req.target (origin-form only). False: 400.
bool parse_target(Request& req);
// An X-Request-Id from a client is kept when 1..128 chars of [A-Za-z0-9._:-]; else one is
// generated.
bool sane_request_id(std::string_view id);

using Handler = std::function<Response(const Request&)>;
// Completes the request of an AsyncHandler. Call it once, from any thread (later calls are
// ignored).
using Respond = std::function<void(Response)>;
// A handler that never blocks: it runs on the I/O thread and answers through respond, at once or
// later from another thread (e.g. when a command's transaction commits). It saves the worker-pool
// hand-off of a blocking Handler. An exception it throws is answered like a Handler's.
using AsyncHandler = std::function<void(const Request&, Respond)>;

// Routes: "/orders/{id}/items/{product_id}". A segment "{name}" matches one non-empty path segment.
// Unknown path: 404 problem; known path with another method: 405 problem with Allow header.
// Scopes (auth): "public" (default), "command", "query", "admin". See ServerOptions::tokens.
class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);
  void add(std::string method, std::string pattern, Handler handler, std::string scope);
  void add_async(std::string method, std::string pattern, AsyncHandler handler, std::string scope);
  // Finds the handler (one of the two is set); fills req.path_params and req.route.
  // Otherwise status 404/405.
  struct Match {
    const Handler* handler = nullptr;
    const AsyncHandler* async_handler = nullptr;
    int status = 404;
    std::string allow;  // for 405
    std::string scope = "public";
  };
  Match match(Request& req) const;
  // Every registered (method, pattern), in registration order (the API description's tests).
  std::vector<std::pair<std::string, std::string>> routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    AsyncHandler async_handler;
    std::string scope = "public";
  };
  void add_route(Route route);
  std::vector<Route> routes_;
};

// Bearer token of one scope (an empty token leaves the scope open).
struct AuthRule {
  std::string token;
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: pick a free port (see Server::port())
  std::size_t io_threads = 2;
  std::size_t worker_threads = 64;                         // concurrent blocking handlers
  std::size_t body_limit = 1024 * 1024;                    // 413 above
  std::size_t header_limit = 16 * 1024;                    // 431 above
  std::size_t max_connections = 1024;                      // beyond: 503 and close
  std::chrono::milliseconds request_read_timeout{10'000};  // head + body of one request
  std::chrono::milliseconds idle_timeout{60'000};          // keep-alive idle
  std::chrono::milliseconds handler_timeout{30'000};       // 503 if a handler exceeds it
  std::string service_name = "service";
  // scope -> bearer token ("command", "query", "admin"). A route whose scope has a non-empty token
  // needs "Authorization: Bearer <token>": missing -> 401 (WWW-Authenticate: Bearer), wrong -> 403.
  std::map<std::string, std::string> tokens;
  // Origins (scheme://host:port) whose pages may GET any route cross-origin (common/http/cors.hpp;
  // the web console). Empty: no CORS headers, preflights are 405 like any OPTIONS.
  std::vector<std::string> cors_origins;
  // Whether a handler's exception is worth a 503 + Retry-After (nothing was done, a retry may
  // work) rather than a 500; the services pass pg::is_transient. Unset: always 500.
  std::function<bool(const std::exception_ptr&)> is_transient;
};

class Server {
 public:
  Server(ServerOptions options, Router router, log::Logger& logger, metrics::Registry& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();                // binds and starts the threads; throws on bind failure (port in use)
  std::uint16_t port() const;  // the bound port
  // Graceful: stop accepting, let in-flight requests finish (up to grace), close idle keep-alives.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10'000));
  void wait();  // blocks until stopped

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Blocks SIGTERM and SIGINT in the calling thread (and ignores SIGPIPE). main() must call it FIRST,
// before any thread is started (Server, Pool users, NATS), so every thread inherits the mask and
// the signal stays pending for wait_for_termination_signal().
void block_termination_signals();
// Blocks until SIGTERM or SIGINT arrives (sigwait; for main.cpp, after
// block_termination_signals()).
void wait_for_termination_signal();

// Constant-time comparison for bearer tokens.
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace orders::http
