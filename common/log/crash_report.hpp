// A crashing service's last log lines: the fatal signal and the failing thread's backtrace.
#pragma once

namespace orders::log {

// On a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) writes one JSON line naming the
// signal, then the raw backtrace of the failing thread, to stderr (the service's log), and lets
// the default action end the process (a core dump where enabled). Without it a crashed service's
// log simply stops. Only async-signal-safe calls run in the handler.
void install_crash_report();

}  // namespace orders::log
