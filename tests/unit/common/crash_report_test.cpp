#include "common/log/crash_report.hpp"

#include <signal.h>

#include <gtest/gtest.h>

namespace orders::log {
namespace {

// A crashing service leaves a line naming the signal and a backtrace in its log, and still dies
// of the signal (so a supervisor, and a core dump, see the real cause).
TEST(CrashReportDeathTest, FatalSignalIsLoggedWithABacktraceAndStillKills) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        install_crash_report();
        ::raise(SIGSEGV);
      },
      ::testing::KilledBySignal(SIGSEGV),
      "\"msg\":\"fatal signal\",\"signal\":\"SIGSEGV\"(.|\n)*common_unit_test");
}

TEST(CrashReportDeathTest, AbortIsLoggedToo) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        install_crash_report();
        std::abort();
      },
      ::testing::KilledBySignal(SIGABRT), "\"signal\":\"SIGABRT\"");
}

}  // namespace
}  // namespace orders::log
