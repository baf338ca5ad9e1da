#include "common/crypto/random.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <system_error>

namespace orders::crypto {

namespace {

// Taken 512 bytes at a time per thread: one system call per 64 numbers instead of one per number
// (an event id is made for every event, a trace and a span id for every request).
class RandomPool {
 public:
  std::uint64_t next() {
    if (used_ == buf_.size()) refill();
    return buf_[used_++];
  }

 private:
  void refill() {
    auto* p = reinterpret_cast<unsigned char*>(buf_.data());
    std::size_t want = sizeof(buf_);
    while (want > 0) {
      const ssize_t n = getrandom(p, want, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::system_error(errno, std::generic_category(), "getrandom");
      }
      p += n;
      want -= static_cast<std::size_t>(n);
    }
    used_ = 0;
  }
  std::array<std::uint64_t, 64> buf_{};
  std::size_t used_ = buf_.size();
};

}  // namespace

std::uint64_t random64() {
  thread_local RandomPool pool;
  return pool.next();
}

}  // namespace orders::crypto
