// The opaque keyset cursor of GET /orders: base64url("v1:<created_at_us>:<order_id>").
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orders::read_side {

struct ListCursor {
  std::int64_t created_at_us = 0;
  std::string order_id;
  bool operator==(const ListCursor&) const = default;
};

std::string encode_cursor(const ListCursor& c);
std::optional<ListCursor> decode_cursor(std::string_view text);  // nullopt when malformed

}  // namespace orders::read_side
