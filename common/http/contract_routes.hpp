// The routes that describe a service's own API, registered by both services (public scope):
//   GET /openapi.json      the service's OpenAPI 3.1 description (api/*.yaml, embedded at build)
//   GET /problems/{slug}   a page on each problem type of the one table (common/http/problem.cpp),
//                          so a problem's relative "type" resolves against the service that sent it
#pragma once
#include <string_view>

#include "common/http/server.hpp"

namespace orders::http {

void add_contract_routes(Router& router, std::string_view openapi_json);

}  // namespace orders::http
