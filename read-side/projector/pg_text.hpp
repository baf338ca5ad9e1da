// Text encodings the projector sends as statement parameters, built straight into strings (no
// JSON document in between): Postgres array literals ('{"a","b\"c",NULL,7}') for unnest().
// Header-only; unit-tested in tests/unit/read_side/pg_text_test.cpp.
#pragma once
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orders::read_side {

inline void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;  // 24 chars always hold an int64
  out.append(buf, end);
}

// A one-dimensional Postgres array literal, element by element. Every text element is quoted
// (so "NULL", empty strings, commas and braces stay text); NULL is written bare.
class PgArrayText {
 public:
  PgArrayText() : text_("{") {}

  void add(std::string_view s) {
    separate();
    text_.push_back('"');
    for (char ch : s) {
      if (ch == '"' || ch == '\\') text_.push_back('\\');
      text_.push_back(ch);
    }
    text_.push_back('"');
  }
  void add(std::int64_t v) {
    separate();
    append_int(text_, v);
  }
  void add(const std::optional<std::int64_t>& v) {
    if (v) {
      add(*v);
    } else {
      add_null();
    }
  }
  void add_null() {
    separate();
    text_ += "NULL";
  }
  // The literal; the builder is spent afterwards.
  std::string finish() {
    text_.push_back('}');
    return std::move(text_);
  }

 private:
  void separate() {
    if (!first_) text_.push_back(',');
    first_ = false;
  }
  std::string text_;
  bool first_ = true;
};

}  // namespace orders::read_side
