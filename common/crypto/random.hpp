// Random 64-bit numbers from the kernel's CSPRNG (getrandom), for ids that must not be guessable
// or collide: UUIDs (write-side/crypto/uuid.*) and W3C trace / span ids
// (common/http/trace_context.*).
#pragma once
#include <cstdint>

namespace orders::crypto {

// Thread-safe (a pool per thread); throws std::system_error when getrandom fails.
std::uint64_t random64();

}  // namespace orders::crypto
