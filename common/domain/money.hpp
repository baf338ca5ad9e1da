// Exact money: integer cents, parsed from and printed as decimal strings. Never a binary float.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orders::domain {

using Cents = std::int64_t;

// The bounds that keep every sum exact in 64 bits (docs/design.md, "Limits"): a price is at most
// 1,000,000.00, an order's total at most 10,000,000,000,000.00 (a command that would pass it is
// refused). A line total is at most kMaxLineQuantity * kMaxPriceCents = 10^17 cents and an order
// total plus one more command's worth stays far below 2^63; a customer's lifetime value, a sum
// over any number of orders, is summed as numeric in SQL and never held in 64 bits.
inline constexpr Cents kMaxPriceCents = 100'000'000;
inline constexpr Cents kMaxOrderTotalCents = 1'000'000'000'000'000;

// Parses a non-negative decimal ("10", "10.1", "10.10", "10.100", "1e2" is rejected) into cents.
// At most 2 decimal places by value: trailing zeros beyond the second place are allowed.
// Returns nullopt for anything else (sign, exponent, garbage, overflow).
std::optional<Cents> parse_decimal_cents(std::string_view text);

// "35.00", "-1.05": always two decimals.
std::string format_cents(Cents cents);
// The same for an integer number of cents given as decimal digits of any length (a SQL numeric
// sum: "123456" -> "1234.56", "-5" -> "-0.05"); nullopt when it is not an optional '-' and digits.
std::optional<std::string> format_cents_digits(std::string_view digits);

}  // namespace orders::domain
