// One request: route, authorize, run the handler (on the worker pool, or async), bound its time,
// and turn its exceptions into problems.
#include <memory>

#include "common/http/auth.hpp"
#include "common/http/cors.hpp"
#include "common/http/detail/server_impl.hpp"
#include "common/http/problem.hpp"
#include "common/log/logger.hpp"

namespace orders::http {

namespace {

std::string describe(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "non-standard exception";
  }
}

// Shared between a session waiting for a handler and the worker running it.
struct Pending {
  explicit Pending(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::optional<Response> result;
  bool decided = false;  // the session stopped waiting (strand-protected)
};

}  // namespace

asio::awaitable<Response> Server::Impl::handle(Request& req) {
  if (!parse_target(req)) {
    co_return problem(Problem::InvalidRequest,
                      "malformed request target (bad percent-encoding or NUL byte)");
  }
  if (auto preflight = cors_preflight(req, opts.cors_origins)) co_return std::move(*preflight);
  const auto match = router.match(req);
  if (match.status == 404) co_return problem(Problem::NotFound, "no such resource");
  if (match.status == 405) {
    Response res = problem(Problem::MethodNotAllowed, "allowed methods: " + match.allow);
    res.headers.emplace_back("Allow", match.allow);
    co_return res;
  }
  if (auto denied = authorize(req, match.scope, opts.tokens)) co_return std::move(*denied);

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
    // The handler may outlive this request's wait (handler_timeout): it runs on its own copy.
    auto copy = std::make_shared<const Request>(req);
    asio::co_spawn(
        *workers,
        [this, handler, copy]() -> asio::awaitable<Response> { co_return invoke(*handler, *copy); },
        [deliver](const std::exception_ptr&, Response r) { deliver(std::move(r)); });
  }
  co_await pending->timer.async_wait(use_tuple);
  pending->decided = true;
  if (pending->result) co_return std::move(*pending->result);
  logger.warn("handler timed out", {{"request_id", req.request_id},
                                    {"route", req.route},
                                    {"timeout_ms", opts.handler_timeout.count()}});
  co_return problem(Problem::Timeout, "the request took too long; retry later");
}

Response Server::Impl::invoke(const Handler& handler, const Request& req) {
  try {
    return handler(req);
  } catch (...) {
    return failure_response(req, std::current_exception());
  }
}

// The answer to a handler's exception: 503 when worth a retry, else 500 (details only logged).
Response Server::Impl::failure_response(const Request& req, const std::exception_ptr& ep) {
  if (opts.is_transient && opts.is_transient(ep)) {
    logger.warn("request failed: dependency unavailable",
                {{"request_id", req.request_id}, {"route", req.route}, {"error", describe(ep)}});
    return problem(Problem::Unavailable, "a dependency is unavailable or busy; retry later");
  }
  logger.error("request failed: unexpected error",
               {{"request_id", req.request_id}, {"route", req.route}, {"error", describe(ep)}});
  return problem(Problem::Internal,
                 "unexpected error; see the server log for request " + req.request_id);
}

}  // namespace orders::http
