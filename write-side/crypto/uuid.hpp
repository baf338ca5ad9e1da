// UUIDs for event ids (version 7) and generated order ids (version 4).
#pragma once
#include <cstdint>
#include <string>

namespace orders::write_side {

// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", lower-case, from the kernel CSPRNG (getrandom);
// thread-safe.
std::string uuid_v4();

// RFC 9562 version 7: 48-bit Unix milliseconds, then random bits: "tttttttt-tttt-7xxx-yxxx-...".
// Event ids use it so the unique index on events.event_id grows at its right edge instead of
// touching a random leaf page per insert (fewer pages dirtied and written after a checkpoint).
std::string uuid_v7();
// The same with a given time (tests).
std::string uuid_v7_at(std::uint64_t unix_ms);

}  // namespace orders::write_side
