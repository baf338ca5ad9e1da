// SHA-256 of Idempotency-Key request bodies, from libcrypto (OpenSSL, already loaded through
// libpq).
#pragma once
#include <string>
#include <string_view>

namespace orders::write_side {

// Lower-case hex digest (64 characters).
std::string sha256_hex(std::string_view data);

}  // namespace orders::write_side
