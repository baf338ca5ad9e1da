// Exact money: integer cents, parsed from and printed as decimal strings. Never a binary float.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orders::domain {

using Cents = std::int64_t;

inline constexpr Cents kMaxPriceCents = 100'000'000;  // 1,000,000.00

// Parses a non-negative decimal ("10", "10.1", "10.10", "10.100", "1e2" is rejected) into cents.
// At most 2 decimal places by value: trailing zeros beyond the second place are allowed.
// Returns nullopt for anything else (sign, exponent, garbage, overflow).
std::optional<Cents> parse_decimal_cents(std::string_view text);

// "35.00", "-1.05": always two decimals.
std::string format_cents(Cents cents);

}  // namespace orders::domain
