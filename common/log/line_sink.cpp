// A hand-written sink rather than spdlog's async logger: the line format is ours (JSON lines,
// fixed key order) and all that is needed is one buffer swapped by one thread. Measured in
// tests/bench/pipeline (--log-compare): docs/performance.md, "Logging".
#include "common/log/line_sink.hpp"

#include <unistd.h>

#include <cerrno>

namespace orders::log {

LineSink::LineSink(int fd) : LineSink(fd, Options{}) {}

LineSink::LineSink(int fd, Options options) : fd_(fd), opt_(options) {
  pending_.reserve(opt_.batch_bytes);
  thread_ = std::thread([this] { run(); });
}

LineSink::~LineSink() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void LineSink::append(std::string_view line) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (pending_.size() + line.size() > opt_.max_buffer_bytes) {
      ++dropped_;
      return;
    }
    const bool was_empty = pending_.empty();
    const bool was_small = pending_.size() < opt_.batch_bytes;
    pending_ += line;
    // One wake-up per batch, not per line: the writer then waits out the interval.
    wake = was_empty || (was_small && pending_.size() >= opt_.batch_bytes);
  }
  if (wake) wake_.notify_one();
}

void LineSink::append_now(std::string_view line) { drain(line); }

void LineSink::flush() { drain(); }

std::uint64_t LineSink::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void LineSink::run() {
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock,
                 [&] { return stop_ || !pending_.empty() || dropped_ != dropped_reported_; });
      wake_.wait_for(lock, opt_.interval,
                     [&] { return stop_ || pending_.size() >= opt_.batch_bytes; });
      stopping = stop_;
    }
    drain();
    if (stopping) return;
  }
}

// Takes the buffer (and `extra` after it) and writes it; write_mu_ keeps the order of lines
// between the writer thread and append_now callers.
void LineSink::drain(std::string_view extra) {
  std::lock_guard write_lock(write_mu_);
  writing_.clear();
  {
    std::lock_guard lock(mu_);
    writing_.swap(pending_);
    if (dropped_ != dropped_reported_) {
      writing_ += "{\"level\":\"warn\",\"msg\":\"log lines dropped: the log output is too slow\","
                  "\"dropped_total\":";
      writing_ += std::to_string(dropped_);
      writing_ += "}\n";
      dropped_reported_ = dropped_;
    }
  }
  writing_ += extra;
  write_fully(writing_);
  if (writing_.capacity() > 4 * opt_.batch_bytes) std::string().swap(writing_);
}

void LineSink::write_fully(const std::string& bytes) const {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;  // nowhere to report a failing log output; the service goes on
    }
  }
}

}  // namespace orders::log
