// One connection: read a request within its limits, answer it, keep the connection alive or close
// it so that the client still reads the answer.
#include <array>
#include <cctype>

#include "common/http/cors.hpp"
#include "common/http/detail/server_impl.hpp"
#include "common/http/http_date.hpp"
#include "common/http/problem.hpp"
#include "common/log/logger.hpp"

namespace orders::http {

namespace {

constexpr std::size_t kLingerMaxBytes = std::size_t{8} * 1024 * 1024;
constexpr auto kLingerTime = std::chrono::milliseconds(1000);

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_disconnect(const beast::error_code& ec) {
  return ec == beast::error::timeout || ec == bhttp::error::end_of_stream ||
         ec == bhttp::error::partial_message || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::operation_aborted;
}

// The handler's view of a parsed message: lower-case header names, repeated headers joined.
Request to_request(bhttp::request<bhttp::string_body>& msg) {
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  for (const auto& field : msg) {
    auto [it, inserted] =
        req.headers.try_emplace(lower(field.name_string()), std::string(field.value()));
    if (!inserted) {
      it->second += ", ";
      it->second += std::string(field.value());
    }
  }
  req.body = std::move(msg.body());
  return req;
}

// Every response: Date, X-Request-Id, and a problem's instance naming the request it answers.
// A 304 or 204 has no body, so neither Content-Type nor Content-Length.
void fill(bhttp::response<bhttp::string_body>& out, Response& res, const std::string& request_id,
          bool close) {
  add_instance(res, request_id);
  out.result(static_cast<unsigned>(res.status));
  out.set(bhttp::field::date, http_date_now());
  if (!res.content_type.empty()) out.set(bhttp::field::content_type, res.content_type);
  if (!request_id.empty()) out.set("X-Request-Id", request_id);
  for (auto& [k, v] : res.headers) out.insert(k, v);
  out.body() = std::move(res.body);
  out.keep_alive(!close);
  if (res.status != 304 && res.status != 204) out.content_length(out.body().size());
}

}  // namespace

asio::awaitable<void> Server::Impl::linger_close(beast::tcp_stream& stream) {
  // Half-close, then drain what the client still sends, so the kernel does not answer its unread
  // bytes with a RST that would destroy our response before the client reads it.
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(kLingerTime);
  std::array<char, std::size_t{16} * 1024> sink;
  std::size_t total = 0;
  while (total < kLingerMaxBytes) {
    auto [e, n] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
    if (e) break;
    total += n;
  }
  stream.socket().close(ec);
}

asio::awaitable<bool> Server::Impl::write_response(beast::tcp_stream& stream, Response res,
                                                   const std::string& request_id, unsigned version,
                                                   bool close) {
  bhttp::response<bhttp::string_body> out;
  out.version(version);
  fill(out, res, request_id, close);
  stream.expires_after(opts.request_read_timeout);
  auto [ec, n] = co_await bhttp::async_write(stream, out, use_tuple);
  co_return !ec;
}

asio::awaitable<void> Server::Impl::reject_busy(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  Response res = problem(Problem::Overloaded, "the server is at its connection limit; retry later");
  const std::string rid = request_ids.next();
  logger.warn("connection refused: connection limit",
              {{"request_id", rid}, {"max_connections", opts.max_connections}});
  count_request("OTHER", "unmatched", 503, 0.0);
  co_await write_response(stream, std::move(res), rid, 11, true);
  co_await linger_close(stream);
}

// Head and body of one request under the header and body limits and the request deadline.
asio::awaitable<ReadOutcome> Server::Impl::read_request(beast::tcp_stream& stream,
                                                        beast::flat_buffer& buffer) {
  stream.expires_after(opts.request_read_timeout);  // the whole head + body
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(
      static_cast<std::uint32_t>(std::min<std::size_t>(opts.header_limit, UINT32_MAX)));
  parser.body_limit(opts.body_limit);

  auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
  if (!ec && !parser.is_done()) {
    if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, parser.get().version()};
      auto [wec, wn] = co_await bhttp::async_write(stream, cont, use_tuple);
      if (wec) co_return Disconnect{};
    }
    auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    ec = bec;
  }
  if (!ec) co_return ReadRequest{parser.release()};
  if (is_disconnect(ec)) {
    if (ec == beast::error::timeout) {
      logger.info("slow client disconnected", {{"timeout_ms", opts.request_read_timeout.count()}});
    }
    co_return Disconnect{};
  }
  std::string method = parser.is_header_done() ? std::string(parser.get().method_string()) : "";
  if (ec == bhttp::error::header_limit) {
    co_return ReadFailed{
        problem(Problem::HeaderTooLarge,
                "the request head exceeds " + std::to_string(opts.header_limit) + " bytes"),
        std::move(method)};
  }
  if (ec == bhttp::error::body_limit) {
    co_return ReadFailed{
        problem(Problem::PayloadTooLarge,
                "the request body exceeds " + std::to_string(opts.body_limit) + " bytes"),
        std::move(method)};
  }
  co_return ReadFailed{problem(Problem::InvalidRequest, "malformed HTTP request"),
                       std::move(method)};
}

asio::awaitable<void> Server::Impl::session(std::shared_ptr<SessionCtx> ctx, std::uint64_t id) {
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
        auto [ec, n] =
            co_await stream.async_read_some(buffer.prepare(std::size_t{8} * 1024), use_tuple);
        ctx->idle = false;
        if (ec) break;
        buffer.commit(n);
      }
      first = false;
      const auto started = std::chrono::steady_clock::now();
      auto outcome = co_await read_request(stream, buffer);
      if (std::holds_alternative<Disconnect>(outcome)) break;
      if (auto* failed = std::get_if<ReadFailed>(&outcome)) {
        const std::string rid = request_ids.next();
        const int status = failed->response.status;
        co_await write_response(stream, std::move(failed->response), rid, 11, true);
        access_log(rid, failed->method, "unmatched", status, started);
        co_await linger_close(stream);
        break;
      }

      stream.expires_never();  // handler time is bounded by handler_timeout
      auto& msg = std::get<ReadRequest>(outcome).message;
      Request req = to_request(msg);
      auto rid = req.header("x-request-id");
      req.request_id = rid && sane_request_id(*rid) ? *rid : request_ids.next();
      req.trace = trace_context_for(req.header("traceparent"));

      Response res = co_await handle(req);
      add_cors_headers(req, res, opts.cors_origins);
      res.headers.emplace_back("traceparent", req.trace.traceparent());
      const bool close = !msg.keep_alive() || stopping.load();
      const int status = res.status;
      const bool written =
          co_await write_response(stream, std::move(res), req.request_id, msg.version(), close);
      access_log(req.request_id, req.method, req.route.empty() ? "unmatched" : req.route, status,
                 started, req.trace.trace_id);
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

}  // namespace orders::http
