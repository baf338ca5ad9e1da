// DURATION arguments of the operator commands (`write-side archive --older-than 30d`): a positive
// whole number and one unit, s m h d or w ("90m", "12h", "30d", "2w"). Pure, unit-tested.
#pragma once
#include <chrono>
#include <optional>
#include <string_view>

namespace orders::write_side::cli {

// The duration, or nullopt when the text is not one (empty, no unit, another unit, zero, a sign,
// spaces, or more than 100 years).
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

}  // namespace orders::write_side::cli
