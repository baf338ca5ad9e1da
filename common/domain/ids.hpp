// Identifier rule shared by orders, customers, products and tracking numbers.
#pragma once
#include <string_view>

namespace orders::domain {

inline constexpr std::size_t kMaxIdLength = 128;

// 1-128 characters of ASCII letters, digits, '-', '_', '.', ':'.
bool valid_id(std::string_view id);

}  // namespace orders::domain
