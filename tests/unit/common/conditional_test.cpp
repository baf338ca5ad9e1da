#include "common/http/conditional.hpp"

#include <gtest/gtest.h>

#include "common/http/http_date.hpp"

namespace orders::http {
namespace {

Request with_header(const std::string& name, const std::string& value) {
  Request r;
  r.headers[name] = value;
  return r;
}

TEST(VersionTag, StrongWeakAndBareTagsNameAVersion) {
  EXPECT_EQ(parse_version_tag("\"3\""), 3);
  EXPECT_EQ(parse_version_tag("W/\"3\""), 3);
  EXPECT_EQ(parse_version_tag(" 3 "), 3);
  EXPECT_EQ(parse_version_tag("\"0\""), 0);
}

TEST(VersionTag, AnythingElseIsNotAVersion) {
  for (const char* bad : {"", "\"\"", "\"3", "3\"", "w/\"3\"", "W/3\"", "\"-1\"", "\"3a\"", "\"x\"",
                          "\"1\", \"2\"", "*", "\"1234567890123456789\""}) {
    EXPECT_FALSE(parse_version_tag(bad).has_value()) << bad;
  }
}

TEST(IfMatch, OneTagOrStarOrNothing) {
  EXPECT_EQ(parse_if_match(with_header("if-match", "W/\"4\"")).version, 4);
  EXPECT_FALSE(parse_if_match(with_header("if-match", "W/\"4\"")).malformed);
  EXPECT_FALSE(parse_if_match(with_header("if-match", " * ")).version.has_value());
  EXPECT_FALSE(parse_if_match(with_header("if-match", " * ")).malformed);
  EXPECT_FALSE(parse_if_match(Request{}).malformed);
  EXPECT_TRUE(parse_if_match(with_header("if-match", "\"4\", \"5\"")).malformed);
  EXPECT_TRUE(parse_if_match(with_header("if-match", "\"x\"")).malformed);
}

TEST(IfNoneMatch, MatchesTheVersionWeaklyInAListOrStar) {
  EXPECT_TRUE(none_match_fails(with_header("if-none-match", "\"5\""), 5));
  EXPECT_TRUE(none_match_fails(with_header("if-none-match", "W/\"5\""), 5));
  EXPECT_TRUE(none_match_fails(with_header("if-none-match", "\"4\", W/\"5\""), 5));
  EXPECT_TRUE(none_match_fails(with_header("if-none-match", "*"), 5));
  EXPECT_FALSE(none_match_fails(with_header("if-none-match", "\"4\""), 5));
  EXPECT_FALSE(none_match_fails(with_header("if-none-match", "\"abc\""), 5));
  EXPECT_FALSE(none_match_fails(Request{}, 5));
}

TEST(ConditionalGet, TagsTheResponseOrAnswers304WithoutBody) {
  const Response full = conditional_get(Request{}, 9, json_response(200, {{"v", 9}}));
  EXPECT_EQ(full.status, 200);
  ASSERT_EQ(full.headers.size(), 1u);
  EXPECT_EQ(full.headers[0], (std::pair<std::string, std::string>{"ETag", "\"9\""}));
  const Response same =
      conditional_get(with_header("if-none-match", "\"9\""), 9, json_response(200, {{"v", 9}}));
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  EXPECT_TRUE(same.content_type.empty());
  EXPECT_EQ(same.headers[0].second, "\"9\"");
}

TEST(HttpDate, IsImfFixdate) {
  EXPECT_EQ(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(http_date_now().size(), 29u);
}

}  // namespace
}  // namespace orders::http
