// Waiting for SIGINT / SIGTERM between polls of a following command (`write-side log --follow`):
// the signals are blocked while the object lives and taken with sigtimedwait, so a signal ends the
// wait at once and the command exits 0 after a clean stop.
#pragma once
#include <signal.h>

#include <chrono>

namespace orders::cli {

class TerminationWait {
 public:
  TerminationWait();
  ~TerminationWait();  // restores the previous signal mask
  TerminationWait(const TerminationWait&) = delete;
  TerminationWait& operator=(const TerminationWait&) = delete;

  // True when SIGINT or SIGTERM arrived within `timeout` (or was pending already).
  bool wait_for(std::chrono::milliseconds timeout);

 private:
  sigset_t set_{};
  sigset_t previous_{};
};

}  // namespace orders::cli
