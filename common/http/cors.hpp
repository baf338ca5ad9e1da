// Cross-origin reads for the web console (docs/operations.md#web-console): the console page served
// by one service reads the other service (another port, so another origin). An origin listed in
// ServerOptions::cors_origins may GET any route: its requests get Access-Control-Allow-Origin, and
// its preflights (OPTIONS, needed because the console sends Authorization) are answered 204. Only
// GET is allowed, so no other origin's page can send a command through a user's browser.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/server.hpp"

namespace orders::http {

// "http://a:1, http://b:2" -> each an origin (scheme://host[:port], no path); "" -> none.
// nullopt when an entry is not an origin (the setting is refused at start).
std::optional<std::vector<std::string>> parse_origins(std::string_view csv);

// The answer to a CORS preflight from an allowed origin for GET; nullopt: not one (route it).
std::optional<Response> cors_preflight(const Request& req, const std::vector<std::string>& origins);

// Adds Access-Control-Allow-Origin (and Vary, the exposed headers) to the response of a GET
// from an allowed origin.
void add_cors_headers(const Request& req, Response& res, const std::vector<std::string>& origins);

}  // namespace orders::http
