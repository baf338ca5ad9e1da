#include "common/http/contract_routes.hpp"

#include <string>

#include "common/http/problem.hpp"

namespace orders::http {

void add_contract_routes(Router& router, std::string_view openapi_json) {
  router.add(
      "GET", "/openapi.json",
      [spec = std::string(openapi_json)](const Request&) {
        return text_response(200, spec, "application/json");
      },
      "public");
  router.add(
      "GET", "/problems/{slug}",
      [](const Request& req) { return problem_page(req.path_params.at("slug")); }, "public");
}

}  // namespace orders::http
