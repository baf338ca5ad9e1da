#include "write-side/cli/duration.hpp"

#include <cstdint>

namespace orders::write_side::cli {

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  constexpr std::int64_t kMaxSeconds = 100LL * 366 * 86400;
  if (text.size() < 2) return std::nullopt;
  std::int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 7LL * 86400;
      break;
    default:
      return std::nullopt;
  }
  std::int64_t n = 0;
  for (const char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
    if (n * unit > kMaxSeconds) return std::nullopt;  // also keeps n far from overflowing
  }
  if (n == 0) return std::nullopt;
  return std::chrono::seconds(n * unit);
}

}  // namespace orders::write_side::cli
