#include "common/log/crash_report.hpp"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <cstddef>
#include <initializer_list>

namespace orders::log {

namespace {

void write_all(const char* s, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

void write_str(const char* s) {
  write_all(s, ::strlen(s));
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "fatal signal";
  }
}

void on_fatal_signal(int sig) {
  // SA_RESETHAND restored the default action: re-raising below ends the process as the signal
  // would.
  write_str("{\"level\":\"fatal\",\"msg\":\"fatal signal\",\"signal\":\"");
  write_str(signal_name(sig));
  write_str("\",\"backtrace\":\"follows\"}\n");
  void* frames[64];
  const int n = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, n, STDERR_FILENO);
  ::raise(sig);
}

}  // namespace

void install_crash_report() {
  // backtrace() loads libgcc on its first call, which allocates: do it now, not in the handler.
  void* warm[1];
  ::backtrace(warm, 1);
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::sigaction(sig, &sa, nullptr);
}

}  // namespace orders::log
