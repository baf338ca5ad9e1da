// The API descriptions against the code: each service's router and its OpenAPI document have the
// same (method, path template) set, both ways, and the problem types the documents name are the
// one table's (common/http/problem.cpp).
#include <set>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/openapi_specs.hpp"
#include "common/http/problem.hpp"
#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "common/pg/pool.hpp"
#include "read-side/query/query_api.hpp"
#include "read-side/read_your_writes/version_waiters.hpp"
#include "write-side/api/http_api.hpp"

namespace orders {
namespace {

using RouteSet = std::set<std::pair<std::string, std::string>>;

RouteSet router_routes(const http::Router& router) {
  RouteSet out;
  for (const auto& r : router.routes()) out.insert(r);
  return out;
}

RouteSet spec_routes(std::string_view spec_json) {
  const auto spec = nlohmann::json::parse(spec_json);
  EXPECT_EQ(spec.at("openapi").get<std::string>().rfind("3.1.", 0), 0u);
  RouteSet out;
  for (const auto& [path, item] : spec.at("paths").items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters" || method == "summary" || method == "description") continue;
      std::string upper;
      for (char c : method) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out.emplace(upper, path);
    }
  }
  return out;
}

void expect_same(const RouteSet& router, const RouteSet& spec) {
  for (const auto& r : router)
    EXPECT_TRUE(spec.count(r)) << r.first << " " << r.second << " is routed but not in the spec";
  for (const auto& r : spec)
    EXPECT_TRUE(router.count(r)) << r.first << " " << r.second << " is in the spec but not routed";
}

// Nothing here connects: the pool and the pipeline are only constructed (their I/O starts later).
struct Deps {
  log::Logger logger{"contract-test", log::Level::Error};
  metrics::Registry metrics;
  pg::Pool pool{"postgresql://127.0.0.1:1/none", 1};
};

TEST(OpenApi, WriteSideRoutesAreTheSpecsRoutes) {
  Deps d;
  write_side::CommandPipeline pipeline(d.pool, {}, d.logger, d.metrics);
  write_side::WriteApi api({pipeline, d.pool, d.logger, d.metrics, {}});
  http::Router router;
  api.register_routes(router);
  const auto routes = router_routes(router);
  EXPECT_EQ(routes.size(), 17u);  // 14 + GET /events, /ui, /ui/{asset}
  expect_same(routes, spec_routes(api::write_side_openapi_json()));
}

TEST(OpenApi, ReadSideRoutesAreTheSpecsRoutes) {
  Deps d;
  read_side::VersionWaiters waiters;
  read_side::QueryApiContext ctx{d.pool, waiters, d.metrics, d.logger, {}};
  const auto routes = router_routes(read_side::make_query_router(ctx));
  EXPECT_EQ(routes.size(), 11u);  // 9 + GET /ui, /ui/{asset}
  expect_same(routes, spec_routes(api::read_side_openapi_json()));
}

TEST(OpenApi, TheProblemTypesAreTheTablesSlugs) {
  std::set<std::string> table;
  for (const auto& k : http::all_kinds()) table.insert("/problems/" + std::string(k.slug));
  for (auto spec_json : {api::write_side_openapi_json(), api::read_side_openapi_json()}) {
    const auto spec = nlohmann::json::parse(spec_json);
    const auto& listed = spec.at("/components/schemas/ProblemType/enum"_json_pointer);
    EXPECT_EQ(listed.get<std::set<std::string>>(), table);
  }
}

// Every problem response names only types of its own status (a 409 is never order-not-found).
TEST(OpenApi, EachProblemResponseNamesTypesOfItsStatus) {
  std::map<std::string, int> status_of;
  for (const auto& k : http::all_kinds()) status_of["/problems/" + std::string(k.slug)] = k.status;
  for (auto spec_json : {api::write_side_openapi_json(), api::read_side_openapi_json()}) {
    const auto spec = nlohmann::json::parse(spec_json);
    int checked = 0;
    for (const auto& [name, response] : spec.at("components").at("responses").items()) {
      const auto* media =
          response.contains("content") && response["content"].contains("application/problem+json")
              ? &response["content"]["application/problem+json"]
              : nullptr;
      if (media == nullptr) continue;
      const auto& extra = media->at("schema").at("allOf").at(1).at("properties");
      const int status = extra.at("status").at("const").get<int>();
      const auto& type = extra.at("type");
      const auto types =
          type.contains("const") ? nlohmann::json::array({type["const"]}) : type.at("enum");
      for (const auto& t : types) {
        EXPECT_EQ(status_of.at(t.get<std::string>()), status) << name << ": " << t;
        ++checked;
      }
    }
    EXPECT_GE(checked, 10);
  }
}

}  // namespace
}  // namespace orders
