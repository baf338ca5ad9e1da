#include "common/domain/ids.hpp"

#include <string>

#include <gtest/gtest.h>

namespace orders::domain {
namespace {

TEST(Ids, AcceptsAllowedCharacters) {
  EXPECT_TRUE(valid_id("order-1"));
  EXPECT_TRUE(valid_id("a.b_c:D-9"));
  EXPECT_TRUE(valid_id(std::string(128, 'x')));
}

TEST(Ids, RejectsBadIds) {
  EXPECT_FALSE(valid_id(""));
  EXPECT_FALSE(valid_id(std::string(129, 'x')));
  for (const char* s : {"a b", "a/b", "a%20", "é", "a\nb", "a;b", "<script>", "a'b", "a\"b"}) {
    EXPECT_FALSE(valid_id(s)) << s;
  }
  EXPECT_FALSE(valid_id(std::string("a\0b", 3)));
}

}  // namespace
}  // namespace orders::domain
