#include "common/domain/money.hpp"

#include <gtest/gtest.h>

namespace orders::domain {
namespace {

TEST(Money, ParsesExactDecimals) {
  EXPECT_EQ(parse_decimal_cents("10"), 1000);
  EXPECT_EQ(parse_decimal_cents("10.1"), 1010);
  EXPECT_EQ(parse_decimal_cents("10.10"), 1010);
  EXPECT_EQ(parse_decimal_cents("10.100"), 1010);
  EXPECT_EQ(parse_decimal_cents("0.01"), 1);
  EXPECT_EQ(parse_decimal_cents("0"), 0);
  EXPECT_EQ(parse_decimal_cents("1000000.00"), 100000000);
}

TEST(Money, RejectsMoreThanTwoDecimalsByValue) {
  EXPECT_EQ(parse_decimal_cents("10.001"), std::nullopt);
  EXPECT_EQ(parse_decimal_cents("0.005"), std::nullopt);
}

TEST(Money, RejectsGarbage) {
  for (const char* s : {"", "-1", "+1", "1e2", "1.", ".5", "abc", "1,00", " 1", "1 ", "NaN",
                        "Infinity", "0x10", "1.2.3", "99999999999999999999999"}) {
    EXPECT_EQ(parse_decimal_cents(s), std::nullopt) << s;
  }
}

TEST(Money, Formats) {
  EXPECT_EQ(format_cents(3500), "35.00");
  EXPECT_EQ(format_cents(1), "0.01");
  EXPECT_EQ(format_cents(0), "0.00");
  EXPECT_EQ(format_cents(-105), "-1.05");
  EXPECT_EQ(format_cents(INT64_MIN), "-92233720368547758.08");
}

}  // namespace
}  // namespace orders::domain
