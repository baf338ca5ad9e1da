// Log lines written to a file descriptor by a background thread: callers only append to a
// buffer, so a request thread never waits on a write(2) or on another thread's write.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace orders::log {

class LineSink {
 public:
  struct Options {
    std::size_t max_buffer_bytes = std::size_t{8} << 20;  // beyond it lines are dropped, counted
    std::size_t batch_bytes = std::size_t{64} << 10;      // a buffer this full is written at once
    std::chrono::milliseconds interval{10};               // otherwise written within this time
  };
  explicit LineSink(int fd);
  LineSink(int fd, Options options);
  ~LineSink();  // writes everything appended, then stops the writer thread
  LineSink(const LineSink&) = delete;
  LineSink& operator=(const LineSink&) = delete;

  void append(std::string_view line);      // buffered: written within `interval`
  void append_now(std::string_view line);  // written (after what is buffered) before returning
  void flush();                            // writes what is buffered before returning
  std::uint64_t dropped() const;           // lines refused because the buffer was full

 private:
  void run();
  void drain(std::string_view extra = {});
  void write_fully(const std::string& bytes) const;

  int fd_;
  Options opt_;
  mutable std::mutex mu_;  // guards pending_, stop_, dropped_, dropped_reported_
  std::condition_variable wake_;
  std::string pending_;
  bool stop_ = false;
  std::uint64_t dropped_ = 0;
  std::uint64_t dropped_reported_ = 0;
  std::mutex write_mu_;  // one writer at a time, so lines keep their order; taken before mu_
  std::string writing_;  // guarded by write_mu_
  std::thread thread_;
};

}  // namespace orders::log
