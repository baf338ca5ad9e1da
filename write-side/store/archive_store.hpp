// The statements of `write-side archive` (docs/storage.md): the scope of a run, one batch (one
// transaction: sql/functions/ws_archive_batch.sql) and the sizes of both tiers.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>

#include <pqxx/pqxx>

namespace orders::write_side {

// What one run may archive: orders whose OrderDelivered event was recorded before cutoff_us, among
// the hot positions (first_position - 1, horizon].
struct ArchiveScope {
  std::int64_t cutoff_us = 0;  // database clock, microseconds since the epoch
  std::int64_t first_position = 0;
  std::int64_t horizon = 0;  // 0: nothing that old
};

struct ArchiveBatch {
  std::int64_t orders = 0;
  std::int64_t events = 0;
  std::int64_t bytes = 0;                     // the rows' sizes (pg_column_size)
  std::optional<std::int64_t> last_position;  // the highest OrderDelivered picked
};

struct TierSizes {
  std::int64_t hot_bytes = 0;  // pg_total_relation_size: heap, TOAST and indexes
  std::int64_t archive_bytes = 0;
};

void prepare_archive_statements(pqxx::connection& conn);
// False when the database lacks the archive tier (migrations not applied yet).
bool archive_tier_present(pqxx::connection& conn);
// Takes the archive run's session lock (pg::kArchiveLockKey); false when another run holds it.
bool try_lock_archive(pqxx::connection& conn);
ArchiveScope archive_scope(pqxx::connection& conn, std::chrono::seconds older_than);
// One batch in its own transaction (autocommit): moves (or, when !move, counts) up to `orders`
// orders after position `after`.
ArchiveBatch archive_batch(pqxx::connection& conn, const ArchiveScope& scope, std::int64_t after,
                           int orders, bool move);
TierSizes tier_sizes(pqxx::connection& conn);
// Plain VACUUM (ANALYZE) of both tiers: the moved rows' space in the hot table becomes reusable
// by new appends (the file keeps its size; docs/storage.md).
void vacuum_hot(pqxx::connection& conn);
// VACUUM (FULL, ANALYZE) of the hot table: rewrites it without the moved rows' space, so its size
// drops, under an ACCESS EXCLUSIVE lock (every append and read of it waits): a maintenance window.
void compact_hot(pqxx::connection& conn);

}  // namespace orders::write_side
