#include "common/http/cors.hpp"

#include <algorithm>

namespace orders::http {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// scheme "http" or "https", then a host[:port] of [A-Za-z0-9.-:[]] only: no path, no quotes, so
// it can be copied into a header and a Content-Security-Policy unchanged.
bool is_origin(std::string_view s) {
  std::string_view rest;
  if (s.rfind("http://", 0) == 0) {
    rest = s.substr(7);
  } else if (s.rfind("https://", 0) == 0) {
    rest = s.substr(8);
  } else {
    return false;
  }
  if (rest.empty() || rest.size() > 255) return false;
  return std::all_of(rest.begin(), rest.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == ':' || c == '[' || c == ']';
  });
}

std::optional<std::string> allowed_origin(const Request& req,
                                          const std::vector<std::string>& origins) {
  if (origins.empty()) return std::nullopt;
  auto origin = req.header("origin");
  if (!origin || std::find(origins.begin(), origins.end(), *origin) == origins.end())
    return std::nullopt;
  return origin;
}

}  // namespace

std::optional<std::vector<std::string>> parse_origins(std::string_view csv) {
  std::vector<std::string> out;
  while (!csv.empty()) {
    const auto comma = csv.find(',');
    auto item = trim(csv.substr(0, comma));
    csv = comma == std::string_view::npos ? std::string_view{} : csv.substr(comma + 1);
    if (item.empty()) continue;
    if (!is_origin(item)) return std::nullopt;
    out.emplace_back(item);
  }
  return out;
}

std::optional<Response> cors_preflight(const Request& req,
                                       const std::vector<std::string>& origins) {
  if (req.method != "OPTIONS") return std::nullopt;
  auto origin = allowed_origin(req, origins);
  auto method = req.header("access-control-request-method");
  if (!origin || !method || *method != "GET") return std::nullopt;
  Response res;
  res.status = 204;
  res.content_type.clear();
  res.headers = {{"Access-Control-Allow-Origin", *origin},
                 {"Access-Control-Allow-Methods", "GET"},
                 {"Access-Control-Allow-Headers", "Authorization, X-Request-Id"},
                 {"Access-Control-Max-Age", "600"},
                 {"Vary", "Origin"}};
  return res;
}

void add_cors_headers(const Request& req, Response& res, const std::vector<std::string>& origins) {
  if (req.method != "GET") return;
  auto origin = allowed_origin(req, origins);
  if (!origin) return;
  res.headers.emplace_back("Access-Control-Allow-Origin", *origin);
  res.headers.emplace_back("Access-Control-Expose-Headers", "ETag, X-Request-Id");
  res.headers.emplace_back("Vary", "Origin");
}

}  // namespace orders::http
