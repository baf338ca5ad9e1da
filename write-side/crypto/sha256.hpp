// SHA-256 (FIPS 180-4), for hashing request bodies of Idempotency-Key requests. No dependency.
#pragma once
#include <string>
#include <string_view>

namespace orders::write_side {

// Lower-case hex digest (64 characters).
std::string sha256_hex(std::string_view data);

}  // namespace orders::write_side
