// Pure formatting of the rebuild's progress output.
#include <sstream>

#include <gtest/gtest.h>

#include "read-side/rebuild/progress.hpp"
#include "read-side/rebuild/shadow.hpp"

namespace orders::read_side::rebuild {
namespace {

TEST(RebuildProgress, FormatsThousandsDurationsBarAndLine) {
  EXPECT_EQ(with_thousands(0), "0");
  EXPECT_EQ(with_thousands(999), "999");
  EXPECT_EQ(with_thousands(1000000), "1,000,000");
  EXPECT_EQ(with_thousands(-12345), "-12,345");
  EXPECT_EQ(format_duration(2.4), "2s");
  EXPECT_EQ(format_duration(65), "1m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  ProgressFigures f{500000, 1000000, 2.0};
  EXPECT_EQ(format_bar(f, 10),
            "[#####.....]  50.0%  500,000/1,000,000 events  250,000 ev/s  ETA 2s");
  EXPECT_EQ(format_line("replay", f),
            "replay: 500,000/1,000,000 events (50.0%), 250,000 ev/s, elapsed 2s, ETA 2s");
  EXPECT_EQ(format_bar({0, 0, 0.0}, 4), "[####] 100.0%  0/0 events  0 ev/s  ETA 0s");
}

TEST(RebuildProgress, PlainOutputIsLinesAndTerminalOutputRedrawsInPlace) {
  std::ostringstream plain;
  Progress p(plain, false);
  p.begin("replay", 10);
  p.update(5);
  p.end();
  EXPECT_EQ(plain.str().find('\r'), std::string::npos);
  EXPECT_NE(plain.str().find("replay: 5/10 events"), std::string::npos) << plain.str();

  std::ostringstream tty;
  Progress t(tty, true);
  t.begin("replay", 10);
  t.update(10);
  t.end();
  EXPECT_NE(tty.str().find("\r\033[K"), std::string::npos);
  EXPECT_EQ(tty.str().back(), '\n');
}

TEST(RebuildCopy, TimestampsAreUtcWithMicroseconds) {
  EXPECT_EQ(copy_timestamp(0), "1970-01-01 00:00:00.000000+00");
  EXPECT_EQ(copy_timestamp(1795734165123456), "2026-11-26 23:02:45.123456+00");
  EXPECT_EQ(copy_timestamp(-1), "1969-12-31 23:59:59.999999+00");
}

}  // namespace
}  // namespace orders::read_side::rebuild
