#include "common/domain/money.hpp"

namespace orders::domain {

std::optional<Cents> parse_decimal_cents(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::size_t i = 0;
  Cents whole = 0;
  std::size_t int_digits = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (whole > 100'000'000'000LL) return std::nullopt;  // far beyond any valid price
    whole = whole * 10 + (text[i] - '0');
    ++i;
    ++int_digits;
  }
  if (int_digits == 0) return std::nullopt;
  Cents frac = 0;
  if (i < text.size()) {
    if (text[i] != '.') return std::nullopt;
    ++i;
    std::size_t frac_digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      const int d = text[i] - '0';
      if (frac_digits < 2) {
        frac = frac * 10 + d;
      } else if (d != 0) {
        return std::nullopt;  // a third non-zero decimal: not a whole number of cents
      }
      ++i;
      ++frac_digits;
    }
    if (frac_digits == 0 || i != text.size()) return std::nullopt;
    if (frac_digits == 1) frac *= 10;
  }
  return whole * 100 + frac;
}

std::string format_cents(Cents cents) {
  const bool negative = cents < 0;
  // Work in unsigned to survive INT64_MIN.
  unsigned long long magnitude = negative ? 0ULL - static_cast<unsigned long long>(cents)
                                          : static_cast<unsigned long long>(cents);
  // Appended piecewise: GCC 12 at -O3 reports a false -Wrestrict on chained string operator+.
  std::string out;
  if (negative) out.push_back('-');
  out.append(std::to_string(magnitude / 100));
  out.push_back('.');
  const auto frac = static_cast<unsigned>(magnitude % 100);
  out.push_back(static_cast<char>('0' + frac / 10));
  out.push_back(static_cast<char>('0' + frac % 10));
  return out;
}

std::optional<std::string> format_cents_digits(std::string_view digits) {
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  if (digits.empty() || digits.size() > 1000) return std::nullopt;
  for (char c : digits)
    if (c < '0' || c > '9') return std::nullopt;
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  std::string padded(digits.size() < 3 ? 3 - digits.size() : 0, '0');
  padded.append(digits);
  std::string out;
  if (negative && padded.find_first_not_of('0') != std::string::npos) out.push_back('-');
  out.append(padded, 0, padded.size() - 2);
  out.push_back('.');
  out.append(padded, padded.size() - 2, 2);
  return out;
}

}  // namespace orders::domain
