#include "common/cli/termination.hpp"

#include <pthread.h>

#include <cerrno>

namespace orders::cli {

TerminationWait::TerminationWait() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, &previous_);
}

TerminationWait::~TerminationWait() {
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

bool TerminationWait::wait_for(std::chrono::milliseconds timeout) {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(secs.count());
  ts.tv_nsec = static_cast<long>(std::chrono::nanoseconds(timeout - secs).count());
  while (true) {
    const int sig = sigtimedwait(&set_, nullptr, &ts);
    if (sig > 0) return true;
    if (errno == EAGAIN) return false;
    // EINTR: another signal (handled elsewhere) interrupted the wait; waiting again from the
    // full timeout only lengthens one poll interval.
  }
}

}  // namespace orders::cli
