// CORS for the web console (common/http/cors.hpp): only listed origins, only GET, preflights
// answered only for them; the setting refuses anything that is not an origin.
#include "common/http/cors.hpp"

#include <gtest/gtest.h>

namespace orders::http {
namespace {

const std::vector<std::string> kOrigins = {"http://127.0.0.1:8080", "https://console.example"};

Request request(std::string method, std::map<std::string, std::string> headers) {
  Request r;
  r.method = std::move(method);
  r.headers = std::move(headers);
  return r;
}

std::string header(const Response& res, const std::string& name) {
  for (const auto& [k, v] : res.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(Cors, ParsesAListOfOrigins) {
  auto o = parse_origins(" http://127.0.0.1:8080 ,https://console.example,");
  ASSERT_TRUE(o);
  EXPECT_EQ(*o, kOrigins);
  EXPECT_TRUE(parse_origins("")->empty());
}

TEST(Cors, RefusesWhatIsNotAnOrigin) {
  for (const char* bad : {"*", "127.0.0.1:8080", "http://a/path", "http://a b", "ftp://a",
                          "http://", "http://a\"; script-src *", "null"}) {
    EXPECT_FALSE(parse_origins(bad)) << bad;
  }
}

TEST(Cors, AnAllowedOriginsGetGetsTheHeader) {
  Response res;
  add_cors_headers(request("GET", {{"origin", "http://127.0.0.1:8080"}}), res, kOrigins);
  EXPECT_EQ(header(res, "Access-Control-Allow-Origin"), "http://127.0.0.1:8080");
  EXPECT_EQ(header(res, "Vary"), "Origin");
}

TEST(Cors, OtherOriginsAndMethodsGetNothing) {
  for (const auto& req :
       {request("GET", {{"origin", "http://evil.example"}}),
        request("POST", {{"origin", "http://127.0.0.1:8080"}}), request("GET", {})}) {
    Response res;
    add_cors_headers(req, res, kOrigins);
    EXPECT_TRUE(res.headers.empty()) << req.method;
  }
  Response res;
  add_cors_headers(request("GET", {{"origin", "http://127.0.0.1:8080"}}), res, {});
  EXPECT_TRUE(res.headers.empty());
}

TEST(Cors, PreflightOfAGetFromAnAllowedOrigin) {
  auto res =
      cors_preflight(request("OPTIONS", {{"origin", "https://console.example"},
                                         {"access-control-request-method", "GET"},
                                         {"access-control-request-headers", "authorization"}}),
                     kOrigins);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(header(*res, "Access-Control-Allow-Origin"), "https://console.example");
  EXPECT_NE(header(*res, "Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  EXPECT_EQ(header(*res, "Access-Control-Allow-Methods"), "GET");
}

TEST(Cors, NoPreflightForCommandsOrOtherOrigins) {
  EXPECT_FALSE(cors_preflight(request("OPTIONS", {{"origin", "https://console.example"},
                                                  {"access-control-request-method", "POST"}}),
                              kOrigins));
  EXPECT_FALSE(cors_preflight(request("OPTIONS", {{"origin", "http://evil.example"},
                                                  {"access-control-request-method", "GET"}}),
                              kOrigins));
  EXPECT_FALSE(cors_preflight(request("GET", {{"origin", "https://console.example"},
                                              {"access-control-request-method", "GET"}}),
                              kOrigins));
}

}  // namespace
}  // namespace orders::http
