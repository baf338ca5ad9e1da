// The pg advisory lock keys shared between processes: the holder of a key is visible to anyone in
// pg_locks (the checks of common/ops read who leads the relay).
#pragma once
#include <cstdint>

namespace orders::pg {

// The relay leader's lease ("relay" in ASCII), held on the leader's lease connection.
inline constexpr std::int64_t kRelayLockKey = 0x72656c6179;

// One `write-side archive` run at a time ("archive" in ASCII), held on the run's connection.
inline constexpr std::int64_t kArchiveLockKey = 0x61726368697665;

}  // namespace orders::pg
