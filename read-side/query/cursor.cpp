#include "read-side/query/cursor.hpp"

#include <charconv>

#include "common/domain/ids.hpp"

namespace orders::read_side {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64url_encode(std::string_view in) {
  std::string out;
  std::uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buf >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buf << (6 - bits)) & 0x3F]);
  return out;
}

std::optional<std::string> b64url_decode(std::string_view in) {
  std::string out;
  std::uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    auto pos = kAlphabet.find(c);
    if (pos == std::string_view::npos) return std::nullopt;
    buf = (buf << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return std::nullopt;                        // a dangling character
  if ((buf & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical padding bits
  return out;
}

}  // namespace

std::string encode_cursor(const ListCursor& c) {
  return b64url_encode("v1:" + std::to_string(c.created_at_us) + ":" + c.order_id);
}

std::optional<ListCursor> decode_cursor(std::string_view text) {
  if (text.empty() || text.size() > 400) return std::nullopt;
  auto raw = b64url_decode(text);
  if (!raw) return std::nullopt;
  std::string_view s = *raw;
  if (s.substr(0, 3) != "v1:") return std::nullopt;
  s.remove_prefix(3);
  auto colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  ListCursor c;
  auto num = s.substr(0, colon);
  auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), c.created_at_us);
  if (ec != std::errc{} || ptr != num.data() + num.size()) return std::nullopt;
  // 1970-01-01 .. 9999-12-31: keeps the value inside Postgres' timestamp range.
  if (c.created_at_us < 0 || c.created_at_us > 253'402'300'799'999'999LL) return std::nullopt;
  c.order_id = std::string(s.substr(colon + 1));
  if (!domain::valid_id(c.order_id)) return std::nullopt;
  return c;
}

}  // namespace orders::read_side
