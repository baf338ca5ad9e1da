#include "write-side/crypto/uuid.hpp"

#include <array>
#include <chrono>
#include <cstdint>

#include "common/crypto/random.hpp"

namespace orders::write_side {

namespace {

using crypto::random64;

std::string format(std::uint64_t hi, std::uint64_t lo) {
  std::array<unsigned char, 16> b{};
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<unsigned char>(hi >> (56 - 8 * i));
    b[8 + i] = static_cast<unsigned char>(lo >> (56 - 8 * i));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xF]);
  }
  return out;
}

constexpr std::uint64_t kVariant10(std::uint64_t lo) {
  return (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
}

}  // namespace

std::string uuid_v4() {
  std::uint64_t hi = random64();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  return format(hi, kVariant10(random64()));
}

std::string uuid_v7_at(std::uint64_t unix_ms) {
  const std::uint64_t rand_a = random64() & 0x0FFFULL;
  const std::uint64_t hi = ((unix_ms & 0xFFFFFFFFFFFFULL) << 16) | 0x7000ULL | rand_a;  // version 7
  return format(hi, kVariant10(random64()));
}

std::string uuid_v7() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return uuid_v7_at(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now).count()));
}

}  // namespace orders::write_side
