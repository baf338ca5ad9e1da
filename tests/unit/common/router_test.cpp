#include <gtest/gtest.h>

#include "common/http/server.hpp"

namespace orders::http {
namespace {

Handler returning(int status) {
  return [status](const Request&) { return json_response(status, nlohmann::json::object()); };
}

Request request(std::string method, std::string target) {
  Request req;
  req.method = std::move(method);
  req.target = std::move(target);
  EXPECT_TRUE(parse_target(req)) << req.target;
  return req;
}

Router sample_router() {
  Router r;
  r.add("POST", "/orders", returning(201), "command");
  r.add("GET", "/orders/{id}", returning(200), "query");
  r.add("POST", "/orders/{id}/items", returning(200));
  r.add("DELETE", "/orders/{id}/items/{product_id}", returning(200));
  r.add("GET", "/healthz", returning(200));
  return r;
}

TEST(Router, MatchesLiteralAndParameterSegments) {
  const Router r = sample_router();
  auto req = request("DELETE", "/orders/o-1/items/p.2");
  const auto m = r.match(req);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(req.route, "/orders/{id}/items/{product_id}");
  EXPECT_EQ(req.path_params.at("id"), "o-1");
  EXPECT_EQ(req.path_params.at("product_id"), "p.2");
  EXPECT_EQ(m.scope, "public");
}

TEST(Router, ReportsTheScopeOfTheRoute) {
  const Router r = sample_router();
  auto req = request("POST", "/orders");
  EXPECT_EQ(r.match(req).scope, "command");
  auto q = request("GET", "/orders/x");
  EXPECT_EQ(r.match(q).scope, "query");
}

TEST(Router, UnknownPathIs404) {
  const Router r = sample_router();
  for (const char* target :
       {"/nope", "/orders/a/b", "/", "/orders/", "/healthz/x", "/orders//items"}) {
    auto req = request("GET", target);
    const auto m = r.match(req);
    EXPECT_EQ(m.handler, nullptr) << target;
    EXPECT_EQ(m.status, 404) << target;
  }
}

TEST(Router, KnownPathWithOtherMethodIs405WithAllow) {
  Router r = sample_router();
  r.add("PUT", "/orders/{id}", returning(200));
  auto req = request("PATCH", "/orders/o1");
  const auto m = r.match(req);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.allow, "GET, PUT");
}

TEST(Router, ParametersArePercentDecodedPerSegment) {
  const Router r = sample_router();
  auto req = request("GET", "/orders/a%2Fb%3Ac");  // an encoded '/' stays inside the segment
  const auto m = r.match(req);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(req.path_params.at("id"), "a/b:c");
  EXPECT_EQ(req.path, "/orders/a/b:c");
}

TEST(Router, LiteralSegmentsMatchAfterDecoding) {
  const Router r = sample_router();
  auto req = request("GET", "/%68ealthz");
  EXPECT_NE(r.match(req).handler, nullptr);
}

TEST(ParseTarget, DecodesQueryWithPlusAsSpaceAndLastValueWins) {
  auto req = request("GET", "/orders?customer_id=c%201&status=a+b&limit=1&limit=2&flag&=x");
  EXPECT_EQ(req.path, "/orders");
  EXPECT_EQ(req.query.at("customer_id"), "c 1");
  EXPECT_EQ(req.query.at("status"), "a b");
  EXPECT_EQ(req.query.at("limit"), "2");
  EXPECT_EQ(req.query.at("flag"), "");
}

TEST(ParseTarget, RejectsBadEscapesNulAndNonOriginForm) {
  for (const char* target : {"/orders/%zz", "/orders/%4", "/orders/%", "/orders/a%00b", "/x?a=%00",
                             "/x?a=%g1", "/x?%=1", "http://host/x", "*", ""}) {
    Request req;
    req.method = "GET";
    req.target = target;
    EXPECT_FALSE(parse_target(req)) << target;
  }
}

TEST(PercentDecode, KeepsPlusInPathsAndHandlesUtf8) {
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("%C3%A9"), "\xC3\xA9");
  EXPECT_EQ(percent_decode("%7e%7E"), "~~");
  EXPECT_EQ(percent_decode(""), "");
  EXPECT_FALSE(percent_decode("%0"));
  EXPECT_FALSE(percent_decode("%00"));
}

TEST(RequestId, SaneIdsAreKeptOthersReplaced) {
  EXPECT_TRUE(sane_request_id("abc-123_x.y:z"));
  EXPECT_TRUE(sane_request_id(std::string(128, 'a')));
  EXPECT_FALSE(sane_request_id(std::string(129, 'a')));
  EXPECT_FALSE(sane_request_id(""));
  EXPECT_FALSE(sane_request_id("a b"));
  EXPECT_FALSE(sane_request_id("a\r\nX-Injected: 1"));
  EXPECT_FALSE(sane_request_id("\"quoted\""));
}

TEST(ConstantTimeEquals, ComparesWholeStrings) {
  EXPECT_TRUE(constant_time_equals("secret", "secret"));
  EXPECT_TRUE(constant_time_equals("", ""));
  EXPECT_FALSE(constant_time_equals("secret", "secreT"));
  EXPECT_FALSE(constant_time_equals("secret", "secret2"));
  EXPECT_FALSE(constant_time_equals("secret", ""));
  EXPECT_FALSE(constant_time_equals("", "x"));
  EXPECT_FALSE(constant_time_equals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
  EXPECT_FALSE(constant_time_equals(std::string_view("ab\0", 3), "ab"));
}

}  // namespace
}  // namespace orders::http
