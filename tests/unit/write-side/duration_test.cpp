// The DURATION argument of `write-side archive --older-than`.
#include "write-side/cli/duration.hpp"

#include <gtest/gtest.h>

namespace orders::write_side::cli {
namespace {

using std::chrono::seconds;

TEST(Duration, EachUnitIsAWholeNumberOfSeconds) {
  EXPECT_EQ(parse_duration("45s"), seconds(45));
  EXPECT_EQ(parse_duration("90m"), seconds(5400));
  EXPECT_EQ(parse_duration("12h"), seconds(43200));
  EXPECT_EQ(parse_duration("30d"), seconds(30 * 86400));
  EXPECT_EQ(parse_duration("2w"), seconds(14 * 86400));
  EXPECT_EQ(parse_duration("36500d"), seconds(36500LL * 86400));
}

TEST(Duration, AnythingElseIsRefused) {
  for (const char* bad : {"", "d", "30", "30x", "30D", "0d", "-5d", "+5d", " 5d", "5 d", "5d ",
                          "1.5h", "5dd", "1y", "99999999999999999999d", "40000d"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace orders::write_side::cli
