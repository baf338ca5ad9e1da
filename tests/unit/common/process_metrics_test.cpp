#include "common/metrics/process_metrics.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/metrics/build_info_metric.hpp"
#include "common/version/build_info.hpp"

namespace orders::metrics {
namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(ProcessMetrics, StatsAreThoseOfThisProcess) {
  const auto s = read_process_stats();
  ASSERT_TRUE(s);
  EXPECT_GT(s->resident_bytes, 1 << 20);
  EXPECT_GE(s->virtual_bytes, s->resident_bytes);
  EXPECT_GE(s->cpu_seconds, 0.0);
  // Started before now, and not before this test binary could have been built today.
  EXPECT_LE(s->start_time_seconds, unix_now() + 1);
  EXPECT_GT(s->start_time_seconds, unix_now() - 3600);
}

TEST(ProcessMetrics, OpenFdsFollowOpenAndClose) {
  const auto before = count_open_fds();
  std::vector<int> fds;
  fds.reserve(5);
  for (int i = 0; i < 5; ++i) fds.push_back(::open("/dev/null", O_RDONLY));
  EXPECT_EQ(count_open_fds(), before + 5);
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(count_open_fds(), before);
  EXPECT_GE(max_fds(), before);
}

TEST(ProcessMetrics, RegisteredFamiliesRender) {
  Registry r;
  register_process_metrics(r);
  register_build_info(r);
  const std::string text = r.render();
  for (const char* family : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                             "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                             "process_start_time_seconds"}) {
    EXPECT_NE(text.find(std::string("\n") + family + " "), std::string::npos) << family << text;
  }
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
  EXPECT_NE(text.find(std::string("orders_build_info{version=\"") + version::release() +
                      "\",revision=\"" + version::revision() + "\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("NaN"), std::string::npos) << text;
}

TEST(BuildInfo, VersionAndRevisionAreSet) {
  EXPECT_STRNE(version::release(), "");
  EXPECT_STRNE(version::revision(), "");
}

}  // namespace
}  // namespace orders::metrics
