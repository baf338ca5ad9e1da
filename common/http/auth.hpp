// Bearer-token scopes: a route's scope ("command", "query", "admin") with a non-empty token needs
// "Authorization: Bearer <token>"; "public" and scopes without a token are open.
#pragma once
#include <map>
#include <optional>
#include <string>

#include "common/http/server.hpp"

namespace orders::http {

// nullopt: allowed. Otherwise the answer: 401 (with WWW-Authenticate) or 403.
std::optional<Response> authorize(const Request& req, const std::string& scope,
                                  const std::map<std::string, std::string>& tokens);

}  // namespace orders::http
