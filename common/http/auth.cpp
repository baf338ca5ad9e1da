#include "common/http/auth.hpp"

#include <algorithm>
#include <cctype>

#include "common/http/problem.hpp"

namespace orders::http {

namespace {
bool starts_with_bearer(std::string_view header) {
  constexpr std::string_view kBearer = "bearer ";
  if (header.size() < kBearer.size()) return false;
  for (std::size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kBearer[i]) return false;
  }
  return true;
}

std::string_view trimmed_token(std::string_view header) {
  header.remove_prefix(std::string_view("bearer ").size());
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  return header;
}
}  // namespace

std::optional<Response> authorize(const Request& req, const std::string& scope,
                                  const std::map<std::string, std::string>& tokens) {
  if (scope == "public") return std::nullopt;
  auto it = tokens.find(scope);
  if (it == tokens.end() || it->second.empty()) return std::nullopt;
  const auto header = req.header("authorization");
  if (!header || !starts_with_bearer(*header)) {
    Response res = problem(Problem::Unauthorized, "a bearer token is required");
    res.headers.emplace_back("WWW-Authenticate", "Bearer");
    return res;
  }
  if (!constant_time_equals(trimmed_token(*header), it->second)) {
    return problem(Problem::Forbidden, "the bearer token does not grant this scope");
  }
  return std::nullopt;
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
