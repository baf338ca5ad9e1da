// Progress of a rebuild: on a terminal a bar redrawn in place (events done / total, events/s,
// ETA); otherwise (logs, pipes) one plain line about every second.
#pragma once
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace orders::read_side::rebuild {

struct ProgressFigures {
  std::int64_t done = 0;
  std::int64_t total = 0;
  double seconds = 0.0;  // since the phase began
};

// Pure formatting (unit-tested): "[#####.....]  50.0%  500,000/1,000,000 events  250,000 ev/s  ETA
// 2s"
std::string format_bar(const ProgressFigures& f, int width);
std::string format_line(const std::string& phase, const ProgressFigures& f);
std::string with_thousands(std::int64_t n);
std::string format_duration(double seconds);  // "2s", "1m05s", "1h02m"

class Progress {
 public:
  Progress(std::ostream& out, bool tty);
  // Starts a phase (prints a header line on a terminal).
  void begin(const std::string& phase, std::int64_t total);
  void set_total(std::int64_t total);
  // Redraws at most every 100 ms on a terminal, every ~1 s otherwise.
  void update(std::int64_t done);
  // Final figures of the phase, always printed, ends the in-place line.
  void end();
  // A message line (ends an in-place bar first).
  void note(const std::string& line);

 private:
  using Clock = std::chrono::steady_clock;
  void draw(bool final);
  std::ostream& out_;
  bool tty_;
  std::string phase_;
  std::int64_t done_ = 0;
  std::int64_t total_ = 0;
  Clock::time_point started_;
  Clock::time_point last_draw_;
  bool bar_open_ = false;
};

}  // namespace orders::read_side::rebuild
