// W3C traceparent parsing (https://www.w3.org/TR/trace-context/#traceparent-header): valid
// headers are continued, anything malformed is ignored and a new trace started.
#include "common/http/trace_context.hpp"

#include <gtest/gtest.h>

namespace orders::http {
namespace {

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kParent = "00f067aa0ba902b7";
const std::string kValid = std::string("00-") + kTrace + "-" + kParent + "-01";

std::uint64_t counter() {
  thread_local std::uint64_t n = 0;
  return ++n;
}
std::uint64_t zero() {
  return 0;
}

TEST(TraceContext, ParsesAValidVersion00Header) {
  auto t = parse_traceparent(kValid);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->trace_id, kTrace);
  EXPECT_EQ(t->parent_id, kParent);
  EXPECT_EQ(t->flags, 1);
  EXPECT_EQ(parse_traceparent(std::string("00-") + kTrace + "-" + kParent + "-00")->flags, 0);
  EXPECT_EQ(parse_traceparent(std::string("00-") + kTrace + "-" + kParent + "-ff")->flags, 255);
}

TEST(TraceContext, RefusesEveryMalformedHeader) {
  const std::string t = kTrace, p = kParent;
  const std::vector<std::string> bad = {
      "",
      "garbage",
      "00-" + t + "-" + p + "-0",                          // short
      "00-" + t + "-" + p + "-01-",                        // version 00 is exactly 55
      "00-" + t + "-" + p + "-01 ",                        // trailing space
      "ff-" + t + "-" + p + "-01",                         // version ff is invalid
      "0g-" + t + "-" + p + "-01",                         // not hex
      "00-" + std::string(32, '0') + "-" + p + "-01",      // all-zero trace id
      "00-" + t + "-" + std::string(16, '0') + "-01",      // all-zero parent id
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + p + "-01",  // upper case
      "00-" + t + "-00F067AA0BA902B7-01",
      "00-" + t + "-" + p + "-0X",
      "00_" + t + "-" + p + "-01",  // separators
      "00-" + t + "_" + p + "-01",
      "00-" + t + "-" + p + "_01",
      "01-" + t + "-" + p + "-01x",  // a later version may be longer, but only after a '-'
      kValid + ", " + kValid,        // two headers joined
  };
  for (const auto& h : bad) EXPECT_FALSE(parse_traceparent(h)) << h;
}

TEST(TraceContext, AcceptsAHigherVersionAndIgnoresItsExtraFields) {
  const std::string t = kTrace, p = kParent;
  EXPECT_TRUE(parse_traceparent("01-" + t + "-" + p + "-01"));
  auto longer = parse_traceparent("cc-" + t + "-" + p + "-01-what-the-future-holds");
  ASSERT_TRUE(longer);
  EXPECT_EQ(longer->trace_id, kTrace);
}

TEST(TraceContext, ContinuesTheCallersTraceWithANewSpan) {
  auto ctx = continue_trace(parse_traceparent(kValid), &counter);
  EXPECT_EQ(ctx.trace_id, kTrace);
  EXPECT_EQ(ctx.parent_id, kParent);
  EXPECT_NE(ctx.span_id, kParent);
  EXPECT_EQ(ctx.span_id.size(), 16u);
  EXPECT_EQ(ctx.traceparent(), std::string("00-") + kTrace + "-" + ctx.span_id + "-01");
  EXPECT_TRUE(parse_traceparent(ctx.traceparent()));
}

TEST(TraceContext, StartsATraceWhenTheHeaderIsMissingOrMalformed) {
  for (const auto& header : {std::optional<std::string_view>(),
                             std::optional<std::string_view>("00-not-a-traceparent")}) {
    auto ctx = trace_context_for(header);
    EXPECT_EQ(ctx.trace_id.size(), 32u);
    EXPECT_NE(ctx.trace_id, kTrace);
    EXPECT_TRUE(ctx.parent_id.empty());
    EXPECT_EQ(ctx.flags, 1);
    EXPECT_TRUE(parse_traceparent(ctx.traceparent())) << ctx.traceparent();
  }
  EXPECT_NE(trace_context_for(std::nullopt).trace_id, trace_context_for(std::nullopt).trace_id);
}

TEST(TraceContext, ZeroDrawsNeverGiveAnInvalidAllZeroId) {
  auto ctx = continue_trace(std::nullopt, &zero);
  EXPECT_TRUE(parse_traceparent(ctx.traceparent())) << ctx.traceparent();
}

TEST(TraceContext, Hex16IsLowerCaseAndPadded) {
  EXPECT_EQ(hex16(0), "0000000000000000");
  EXPECT_EQ(hex16(0xABCDEF), "0000000000abcdef");
  EXPECT_EQ(hex16(~0ULL), "ffffffffffffffff");
}

}  // namespace
}  // namespace orders::http
