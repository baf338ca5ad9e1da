#include "read-side/query/cursor.hpp"

#include <gtest/gtest.h>

#include "read-side/projector/coordinator.hpp"

namespace orders::read_side {
namespace {

TEST(ListCursor, RoundTrips) {
  for (const ListCursor& c :
       {ListCursor{0, "a"}, ListCursor{1'700'000'000'123'456, "order-1:x_y.z"},
        ListCursor{253'402'300'799'999'999, std::string(128, 'q')}}) {
    auto text = encode_cursor(c);
    EXPECT_EQ(
        text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos);
    auto back = decode_cursor(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, c);
  }
}

TEST(ListCursor, RejectsTampering) {
  EXPECT_FALSE(decode_cursor(""));
  EXPECT_FALSE(decode_cursor("not base64!"));
  EXPECT_FALSE(decode_cursor("djE6MTIzOg"));  // "v1:123:" (no id)
  EXPECT_FALSE(decode_cursor(encode_cursor({5, "a"}) + "x"));
  EXPECT_FALSE(decode_cursor("djI6MTphYg"));  // "v2:1:ab"
  EXPECT_FALSE(decode_cursor(encode_cursor({-1, "a"})));
  EXPECT_FALSE(decode_cursor(encode_cursor({1, "bad id"})));
  EXPECT_FALSE(decode_cursor(std::string(1000, 'A')));
}

TEST(FairShare, CeilOfPartitionsOverLiveReplicas) {
  EXPECT_EQ(fair_share(16, 0), 16);
  EXPECT_EQ(fair_share(16, 1), 16);
  EXPECT_EQ(fair_share(16, 2), 8);
  EXPECT_EQ(fair_share(16, 3), 6);
  EXPECT_EQ(fair_share(16, 5), 4);
  EXPECT_EQ(fair_share(16, 20), 1);
}

}  // namespace
}  // namespace orders::read_side
