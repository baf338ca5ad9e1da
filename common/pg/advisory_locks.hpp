// The pg advisory lock keys shared between processes: the holder of a key is visible to anyone in
// pg_locks (the checks of common/ops read who leads the relay).
#pragma once
#include <cstdint>

namespace orders::pg {

// The relay leader's lease ("relay" in ASCII), held on the leader's lease connection.
inline constexpr std::int64_t kRelayLockKey = 0x72656c6179;

}  // namespace orders::pg
