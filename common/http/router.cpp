#include <algorithm>
#include <set>

#include "common/http/server.hpp"

namespace orders::http {
namespace {

// "/a/b/c" -> {"a","b","c"}; "/" -> {""}; keeps empty segments ("/a//b" -> {"a","","b"}).
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_param(std::string_view segment) {
  return segment.size() >= 3 && segment.front() == '{' && segment.back() == '}';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> Request::header(std::string_view lower_name) const {
  auto it = headers.find(std::string(lower_name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      c = ' ';
    }
    if (c == '\0') return std::nullopt;
    out += c;
  }
  return out;
}

bool parse_target(Request& req) {
  std::string_view target = req.target;
  if (target.empty() || target.front() != '/') return false;
  const auto qpos = target.find('?');
  std::string_view raw_path = target.substr(0, qpos);
  std::string_view raw_query =
      qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);
  if (const auto hash = raw_query.find('#'); hash != std::string_view::npos)
    raw_query = raw_query.substr(0, hash);
  auto path = percent_decode(raw_path, false);
  if (!path) return false;
  req.path = std::move(*path);
  req.query.clear();
  while (!raw_query.empty()) {
    const auto amp = raw_query.find('&');
    std::string_view pair = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view{} : raw_query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!key || !value) return false;
    req.query[std::move(*key)] = std::move(*value);
  }
  return true;
}

void Router::add(std::string method, std::string pattern, Handler handler) {
  add(std::move(method), std::move(pattern), std::move(handler), "public");
}

void Router::add(std::string method, std::string pattern, Handler handler, std::string scope) {
  Route route;
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.handler = std::move(handler);
  route.scope = std::move(scope);
  add_route(std::move(route));
}

void Router::add_async(std::string method, std::string pattern, AsyncHandler handler,
                       std::string scope) {
  Route route;
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.async_handler = std::move(handler);
  route.scope = std::move(scope);
  add_route(std::move(route));
}

void Router::add_route(Route route) {
  for (auto seg : split_path(route.pattern)) route.segments.emplace_back(seg);
  routes_.push_back(std::move(route));
}

std::vector<std::pair<std::string, std::string>> Router::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(routes_.size());
  for (const auto& r : routes_) out.emplace_back(r.method, r.pattern);
  return out;
}

Router::Match Router::match(Request& req) const {
  // Match on the raw (still encoded) path so an encoded "/" inside an id stays inside its segment.
  std::string_view raw_path =
      req.target.empty() ? std::string_view(req.path) : std::string_view(req.target);
  raw_path = raw_path.substr(0, raw_path.find('?'));
  const auto segments = split_path(raw_path);

  Match result;
  std::set<std::string> allowed;
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (std::size_t i = 0; i < segments.size() && ok; ++i) {
      const std::string& want = route.segments[i];
      if (is_param(want)) {
        auto decoded = percent_decode(segments[i], false);
        if (!decoded || decoded->empty())
          ok = false;
        else
          params[want.substr(1, want.size() - 2)] = std::move(*decoded);
      } else {
        auto decoded = percent_decode(segments[i], false);
        ok = decoded && *decoded == want;
      }
    }
    if (!ok) continue;
    if (route.method != req.method) {
      allowed.insert(route.method);
      continue;
    }
    req.path_params = std::move(params);
    req.route = route.pattern;
    if (route.async_handler) {
      result.async_handler = &route.async_handler;
    } else {
      result.handler = &route.handler;
    }
    result.status = 200;
    result.scope = route.scope;
    return result;
  }
  if (!allowed.empty()) {
    result.status = 405;
    for (const auto& m : allowed) {
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += m;
    }
  }
  return result;
}

}  // namespace orders::http
