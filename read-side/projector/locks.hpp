// Advisory lock keys shared by rebuild-projection and the live projector (two-int form,
// pg_advisory_lock(class, projection index in projections())).
//
// * Run lock (session, exclusive, try): one rebuild of a projection at a time.
// * Cutover lock (transaction): every live apply transaction takes it SHARED for each projection
//   before touching the read model (batch_apply.cpp); the rebuild's final tail + compare + swap
//   transaction takes it EXCLUSIVE, so no apply runs between the rebuild's last read of the
//   global log and the swap. Always taken in ascending projection index order.
#pragma once

namespace orders::read_side {

inline constexpr int kRebuildRunLockClass = 0x52534252;  // "RSBR"
inline constexpr int kCutoverLockClass = 0x52534358;     // "RSCX"

// Takes the cutover lock shared for every projection (indexes 0 .. count-1) in one statement:
// SELECT ... FROM generate_series(0, $2 - 1) evaluated in ascending order.
inline constexpr const char* kCutoverSharedLockSql =
    "SELECT count(pg_advisory_xact_lock_shared($1::int, i)) FROM generate_series(0, $2::int - 1) i";

}  // namespace orders::read_side
