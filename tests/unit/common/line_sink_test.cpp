#include "common/log/line_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace orders::log {
namespace {

using namespace std::chrono_literals;

// A pipe whose read end the test drains; the sink writes into the write end.
class Pipe {
 public:
  Pipe() {
    EXPECT_EQ(::pipe(fds_), 0);
    ::fcntl(fds_[0], F_SETFL, O_NONBLOCK);
  }
  ~Pipe() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  int write_end() const { return fds_[1]; }
  // Everything readable now (the read end never blocks).
  std::string read_available() {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fds_[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
  // Fills the pipe so the next blocking write waits until the test reads.
  void fill() {
    ::fcntl(fds_[1], F_SETFL, O_NONBLOCK);
    const std::string block(4096, 'x');
    while (::write(fds_[1], block.data(), block.size()) > 0) {
    }
    ::fcntl(fds_[1], F_SETFL, 0);
  }

 private:
  int fds_[2]{-1, -1};
};

template <class F>
bool wait_until(F done, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(LineSink, BufferedLinesArriveInOrderWithoutAFlush) {
  Pipe pipe;
  LineSink sink(pipe.write_end());
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    const std::string line = "line " + std::to_string(i) + "\n";
    sink.append(line);
    expected += line;
  }
  std::string got;
  ASSERT_TRUE(wait_until([&] { return (got += pipe.read_available()).size() >= expected.size(); },
                         5s));
  EXPECT_EQ(got, expected);
}

TEST(LineSink, AppendNowWritesTheBufferThenTheLineBeforeReturning) {
  Pipe pipe;
  LineSink::Options slow;
  slow.interval = std::chrono::milliseconds(60'000);  // the writer thread would wait a minute
  slow.batch_bytes = std::size_t{1} << 20;
  LineSink sink(pipe.write_end(), slow);
  sink.append("first\n");
  sink.append_now("urgent\n");
  EXPECT_EQ(pipe.read_available(), "first\nurgent\n");
}

TEST(LineSink, FlushAndDestructorWriteEverything) {
  Pipe pipe;
  LineSink::Options slow;
  slow.interval = std::chrono::milliseconds(60'000);
  slow.batch_bytes = std::size_t{1} << 20;
  {
    LineSink sink(pipe.write_end(), slow);
    sink.append("a\n");
    sink.flush();
    EXPECT_EQ(pipe.read_available(), "a\n");
    sink.append("b\n");
  }
  EXPECT_EQ(pipe.read_available(), "b\n");
}

TEST(LineSink, ABlockedOutputDropsAndCountsLinesInsteadOfGrowing) {
  Pipe pipe;
  pipe.fill();  // the writer's next write blocks until the test reads
  LineSink::Options small;
  small.max_buffer_bytes = 100;
  {
    LineSink sink(pipe.write_end(), small);
    const std::string line(30, 'y');
    for (int i = 0; i < 50; ++i) sink.append(line + "\n");
    EXPECT_GT(sink.dropped(), 0u);
    EXPECT_LT(sink.dropped(), 50u);
    // Unblock the writer: read until the drop notice arrives.
    std::string got;
    ASSERT_TRUE(wait_until(
        [&] {
          got += pipe.read_available();
          return got.find("log lines dropped") != std::string::npos;
        },
        5s));
  }
}

}  // namespace
}  // namespace orders::log
