#include "read-side/rebuild/progress.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace orders::read_side::rebuild {

std::string with_thousands(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  const auto len = static_cast<int>(digits.size());
  for (int i = 0; i < len; ++i) {
    if (i > 0 && (len - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[static_cast<std::size_t>(i)]);
  }
  return n < 0 ? "-" + out : out;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<std::int64_t>(std::llround(seconds));
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>((s % 3600) / 60));
  }
  return buf;
}

namespace {

double rate_of(const ProgressFigures& f) {
  return f.seconds > 0 ? f.done / f.seconds : 0.0;
}

std::string eta_of(const ProgressFigures& f) {
  const double rate = rate_of(f);
  if (f.done >= f.total) return "0s";
  if (rate <= 0) return "?";
  return format_duration(static_cast<double>(f.total - f.done) / rate);
}

double percent_of(const ProgressFigures& f) {
  if (f.total <= 0) return 100.0;
  return std::clamp(100.0 * static_cast<double>(f.done) / static_cast<double>(f.total), 0.0, 100.0);
}

}  // namespace

std::string format_bar(const ProgressFigures& f, int width) {
  const double pct = percent_of(f);
  const int filled = std::clamp(static_cast<int>(pct / 100.0 * width), 0, width);
  std::string bar = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                    std::string(static_cast<std::size_t>(width - filled), '.') + "]";
  char buf[256];
  std::snprintf(buf, sizeof buf, " %5.1f%%  %s/%s events  %s ev/s  ETA %s", pct,
                with_thousands(f.done).c_str(), with_thousands(f.total).c_str(),
                with_thousands(static_cast<std::int64_t>(rate_of(f))).c_str(), eta_of(f).c_str());
  return bar + buf;
}

std::string format_line(const std::string& phase, const ProgressFigures& f) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s: %s/%s events (%.1f%%), %s ev/s, elapsed %s, ETA %s",
                phase.c_str(), with_thousands(f.done).c_str(), with_thousands(f.total).c_str(),
                percent_of(f), with_thousands(static_cast<std::int64_t>(rate_of(f))).c_str(),
                format_duration(f.seconds).c_str(), eta_of(f).c_str());
  return buf;
}

Progress::Progress(std::ostream& out, bool tty) : out_(out), tty_(tty) {}

void Progress::begin(const std::string& phase, std::int64_t total) {
  if (bar_open_) end();
  phase_ = phase;
  total_ = total;
  done_ = 0;
  started_ = Clock::now();
  last_draw_ = started_;
  if (tty_) {
    bar_open_ = true;
    draw(false);
  }
}

void Progress::set_total(std::int64_t total) {
  total_ = total;
}

void Progress::update(std::int64_t done) {
  done_ = done;
  const auto now = Clock::now();
  const auto every = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000);
  if (now - last_draw_ < every) return;
  last_draw_ = now;
  draw(false);
}

void Progress::end() {
  draw(true);
  bar_open_ = false;
}

void Progress::note(const std::string& line) {
  if (bar_open_) {
    out_ << "\n";
    bar_open_ = false;
  }
  out_ << line << std::endl;
}

void Progress::draw(bool final) {
  ProgressFigures f{done_, std::max(total_, done_),
                    std::chrono::duration<double>(Clock::now() - started_).count()};
  if (tty_) {
    out_ << "\r\033[K" << phase_ << " " << format_bar(f, 30);
    if (final) out_ << "\n";
    out_.flush();
  } else {
    out_ << format_line(phase_, f) << (final ? " (done)" : "") << std::endl;
  }
}

}  // namespace orders::read_side::rebuild
