#include "common/http/conditional.hpp"

#include <charconv>

namespace orders::http {
namespace {

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

}  // namespace

std::string etag(std::int64_t version) {
  return "\"" + std::to_string(version) + "\"";
}

void set_etag(Response& res, std::int64_t version) {
  res.headers.emplace_back("ETag", etag(version));
}

std::optional<std::int64_t> parse_version_tag(std::string_view tag) {
  tag = trim(tag);
  if (tag.size() >= 2 && tag.substr(0, 2) == "W/") tag.remove_prefix(2);
  if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"') {
    tag = tag.substr(1, tag.size() - 2);
  } else if (tag.find('"') != std::string_view::npos) {
    return std::nullopt;
  }
  if (tag.empty() || tag.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(tag.data(), tag.data() + tag.size(), v);
  if (ec != std::errc() || ptr != tag.data() + tag.size() || v < 0) return std::nullopt;
  return v;
}

IfMatch parse_if_match(const Request& req) {
  auto h = req.header("if-match");
  if (!h || trim(*h) == "*") return {};
  auto version = parse_version_tag(*h);
  if (!version) return {std::nullopt, true};
  return {version, false};
}

bool none_match_fails(const Request& req, std::int64_t version) {
  auto h = req.header("if-none-match");
  if (!h) return false;
  std::string_view list = *h;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto tag = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (tag == "*" || parse_version_tag(tag) == version) return true;
  }
  return false;
}

Response not_modified(std::int64_t version) {
  Response res;
  res.status = 304;
  res.content_type.clear();
  set_etag(res, version);
  return res;
}

Response conditional_get(const Request& req, std::int64_t version, Response res) {
  if (none_match_fails(req, version)) return not_modified(version);
  set_etag(res, version);
  return res;
}

}  // namespace orders::http
