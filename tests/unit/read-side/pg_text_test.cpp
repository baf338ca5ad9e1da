// The text encodings the projector sends to Postgres (read-side/projector/pg_text.hpp).
#include "read-side/projector/pg_text.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "read-side/view/order_view.hpp"

namespace orders::read_side {
namespace {

TEST(PgArrayText, EmptyArray) {
  EXPECT_EQ(PgArrayText().finish(), "{}");
}

TEST(PgArrayText, QuotesEveryTextElementAndEscapesQuotesAndBackslashes) {
  PgArrayText a;
  a.add(std::string_view("plain"));
  a.add(std::string_view("NULL"));  // the text NULL, not a null
  a.add(std::string_view(""));
  a.add(std::string_view("a,b{c}"));
  a.add(std::string_view("say \"hi\" \\o/"));
  EXPECT_EQ(a.finish(), R"({"plain","NULL","","a,b{c}","say \"hi\" \\o/"})");
}

TEST(PgArrayText, IntegersAndNulls) {
  PgArrayText a;
  a.add(std::int64_t{0});
  a.add(std::int64_t{-9223372036854775807LL - 1});
  a.add(std::optional<std::int64_t>{});
  a.add(std::optional<std::int64_t>{42});
  a.add_null();
  EXPECT_EQ(a.finish(), "{0,-9223372036854775808,NULL,42,NULL}");
}

}  // namespace
}  // namespace orders::read_side
