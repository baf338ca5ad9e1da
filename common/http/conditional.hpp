// Conditional requests on a versioned resource (an order): its entity tag is its version, `"N"`.
// If-Match (commands) takes one tag; If-None-Match (reads) a list compared weakly, answered 304.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/http/server.hpp"

namespace orders::http {

// `"N"`: the ETag of version N.
std::string etag(std::int64_t version);
// Adds `ETag: "N"` to a response.
void set_etag(Response& res, std::int64_t version);

// The version in one entity tag: `"N"`, `W/"N"` (weak) or a bare `N` (older clients); spaces
// around it are ignored. nullopt: not a version tag.
std::optional<std::int64_t> parse_version_tag(std::string_view tag);

// A command's If-Match: one entity tag naming a version. No header or `*`: no version condition;
// anything else (a list too: a command expects one version) is malformed (400).
struct IfMatch {
  std::optional<std::int64_t> version;
  bool malformed = false;
};
IfMatch parse_if_match(const Request& req);

// True when the request's If-None-Match names this version (or is `*`): answer not_modified().
bool none_match_fails(const Request& req, std::int64_t version);
// 304 Not Modified: no body, the ETag only.
Response not_modified(std::int64_t version);

// The response of a GET of version `version` of a resource: `ETag: "N"` on `res`, or a 304 when
// the request's If-None-Match already names it.
Response conditional_get(const Request& req, std::int64_t version, Response res);

}  // namespace orders::http
