// libFuzzer target: any bytes as HTTP/1.1 traffic -> Beast's request_parser with the server's
// limits (16 KiB head, 1 MiB body) -> request target parsing -> the router with the write-side
// and read-side routes -> the input parsing each handler runs before it touches the database
// (id validation, strict command JSON, query values, RFC 3339 times, list cursors).
// Never a crash, hang or sanitizer report.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/codec/command_codec.hpp"
#include "common/codec/recorded_event.hpp"
#include "common/http/server.hpp"
#include "read-side/query/cursor.hpp"

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using orders::http::Request;
using orders::http::Response;

const orders::http::ServerOptions kLimits{};  // the server's defaults

Response status(int s) {
  Response r;
  r.status = s;
  return r;
}

std::optional<std::int64_t> count_param(const Request& req, const char* name) {
  auto it = req.query.find(name);
  if (it == req.query.end()) return std::nullopt;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc() || p != it->second.data() + it->second.size()) return -1;
  return v;
}

Response check_ids(const Request& req) {
  for (const auto& [name, value] : req.path_params) {
    if (orders::codec::validate_id(name, value)) return status(400);
  }
  return status(200);
}

Response command(const Request& req, bool allow_empty, int (*parse)(const nlohmann::json&)) {
  if (check_ids(req).status != 200) return status(400);
  auto body = orders::codec::parse_body(req.body, allow_empty);
  auto* doc = std::get_if<nlohmann::json>(&body);
  if (doc == nullptr) return status(400);
  return status(parse ? parse(*doc) : 200);
}

template <class T>
int ok_or_400(const orders::codec::Parsed<T>& p) {
  return std::holds_alternative<T>(p) ? 200 : 400;
}

orders::http::Router make_router() {
  using orders::http::Router;
  Router r;
  // write-side (write-side/http_api.cpp)
  r.add(
      "POST", "/orders",
      [](const Request& q) {
        return command(q, false, [](const nlohmann::json& j) {
          return ok_or_400(orders::codec::parse_create_order(j));
        });
      },
      "command");
  r.add(
      "POST", "/orders/{id}/items",
      [](const Request& q) {
        return command(q, false, [](const nlohmann::json& j) {
          return ok_or_400(orders::codec::parse_add_item(j));
        });
      },
      "command");
  r.add("DELETE", "/orders/{id}/items/{product_id}", check_ids, "command");
  r.add(
      "POST", "/orders/{id}/confirm", [](const Request& q) { return command(q, true, nullptr); },
      "command");
  r.add(
      "POST", "/orders/{id}/ship",
      [](const Request& q) {
        return command(q, false, [](const nlohmann::json& j) {
          return ok_or_400(orders::codec::parse_ship_order(j));
        });
      },
      "command");
  r.add(
      "POST", "/orders/{id}/deliver", [](const Request& q) { return command(q, true, nullptr); },
      "command");
  r.add(
      "GET", "/orders/{id}/events",
      [](const Request& q) {
        (void)count_param(q, "from_version");
        (void)count_param(q, "limit");
        return check_ids(q);
      },
      "query");
  r.add(
      "GET", "/orders/{id}/state",
      [](const Request& q) {
        (void)count_param(q, "version");
        if (auto it = q.query.find("at"); it != q.query.end()) {
          if (auto us = orders::codec::parse_rfc3339_us(it->second)) {
            (void)orders::codec::format_rfc3339_us(*us);
          }
        }
        return check_ids(q);
      },
      "query");
  // read-side (read-side/query/query_api.cpp)
  r.add(
      "GET", "/orders/{id}",
      [](const Request& q) {
        (void)count_param(q, "min_version");
        (void)count_param(q, "wait_ms");
        return check_ids(q);
      },
      "query");
  r.add(
      "GET", "/orders",
      [](const Request& q) {
        if (auto it = q.query.find("customer_id"); it != q.query.end()) {
          (void)orders::codec::validate_id("customer_id", it->second);
        }
        if (auto it = q.query.find("after"); it != q.query.end()) {
          if (auto c = orders::read_side::decode_cursor(it->second)) {
            // A cursor that decodes must round-trip.
            if (orders::read_side::decode_cursor(orders::read_side::encode_cursor(*c)) != c)
              __builtin_trap();
          }
        }
        return status(200);
      },
      "query");
  r.add("GET", "/customers/{id}", check_ids, "query");
  r.add(
      "GET", "/projections", [](const Request&) { return status(200); }, "query");
  r.add("GET", "/healthz", [](const Request&) { return status(200); });
  r.add("GET", "/readyz", [](const Request&) { return status(200); });
  r.add(
      "GET", "/metrics", [](const Request&) { return status(200); }, "admin");
  return r;
}

// One request through the layers in front of the database, as the server session does it.
void handle(bhttp::request<bhttp::string_body>&& msg, const orders::http::Router& router) {
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto [it, inserted] = req.headers.try_emplace(std::move(name), std::string(field.value()));
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  req.body = std::move(msg.body());
  if (!orders::http::parse_target(req)) return;
  auto match = router.match(req);
  if (match.handler != nullptr) (void)(*match.handler)(req);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const orders::http::Router router = make_router();
  // Keep-alive: several pipelined requests in one input, like the session loop reads them.
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < 8 && !rest.empty(); ++n) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(kLimits.header_limit));
    parser.body_limit(kLimits.body_limit);
    parser.eager(true);
    beast::error_code ec;
    std::size_t used = 0;
    // Feed in two pieces (split point from the first byte) to exercise incremental parsing; the
    // parser consumes nothing of an incomplete head, so the unconsumed bytes are offered again.
    std::size_t avail =
        std::min<std::size_t>(rest.size(), static_cast<unsigned char>(rest[0]) + 1u);
    while (!parser.is_done()) {
      const std::size_t n_used =
          parser.put(boost::asio::buffer(rest.data() + used, avail - used), ec);
      used += n_used;
      if (ec == bhttp::error::need_more) {
        ec = {};
        if (avail == rest.size()) break;
        avail = rest.size();
        continue;
      }
      if (ec) break;
      if (n_used == 0) {
        if (avail == rest.size()) break;
        avail = rest.size();
      }
    }
    if (!ec && !parser.is_done() && parser.is_header_done()) {
      parser.put_eof(ec);
    }
    if (ec || !parser.is_done()) return 0;  // the server answers 400/413/431 and closes
    const bool keep_alive = parser.get().keep_alive();
    handle(parser.release(), router);
    if (!keep_alive) return 0;
    rest.remove_prefix(used);
  }
  return 0;
}
