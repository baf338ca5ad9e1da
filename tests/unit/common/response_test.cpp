#include <gtest/gtest.h>

#include "common/http/server.hpp"

namespace orders::http {
namespace {

TEST(JsonResponse, SerializesTheBody) {
  const Response r = json_response(201, {{"order_id", "o1"}, {"version", 1}});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(r.body).at("version"), 1);
}

TEST(TextResponse, KeepsBodyAndType) {
  const Response r = text_response(200, "x 1\n", "text/plain; version=0.0.4");
  EXPECT_EQ(r.body, "x 1\n");
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4");
}

}  // namespace
}  // namespace orders::http
