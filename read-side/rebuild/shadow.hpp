// The shadow tables of one projection (its table and its lines table): created beside the live
// ones (sql/functions/rebuild_*.sql), bulk loaded with COPY, indexed, kept up to date with
// multi-row upserts, compared with the live ones, and swapped in.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "read-side/projector/view_store.hpp"
#include "read-side/view/order_view.hpp"

namespace orders::read_side::rebuild {

// Prepares the rebuild's statements on conn (names prefixed "rb_").
void prepare_shadow_statements(pqxx::connection& conn);

std::string shadow_table(const ProjectionDef& p);  // "<table>_shadow"

void create_shadow(pqxx::transaction_base& tx, const ProjectionDef& p, bool unlogged);
void drop_shadow(pqxx::transaction_base& tx, const ProjectionDef& p);
// SET LOGGED (when loaded UNLOGGED), then the live table's indexes built on the shadow, one
// short transaction per index, then ANALYZE. Returns the number of indexes built.
int index_shadow(pqxx::connection& conn, const ProjectionDef& p);
void swap_in_shadow(pqxx::transaction_base& tx, const ProjectionDef& p);
// SHARE UPDATE EXCLUSIVE on the live and shadow tables: waits out (autovacuum is cancelled
// after deadlock_timeout) and keeps off vacuum and ANALYZE, which would otherwise block the
// swap's DROP and RENAME while the projector is held. Queries and live applies are not blocked.
void hold_off_vacuum(pqxx::transaction_base& tx, const ProjectionDef& p);

// COPY of views into the (empty, index-less) shadow, on conn, one transaction per chunk_rows so
// no write transaction holds the xmin horizon (vacuum) back for long. Returns rows written.
std::int64_t copy_views(pqxx::connection& conn, const ProjectionDef& p,
                        const std::vector<const OrderView*>& views, std::size_t chunk_rows);
// Multi-row upsert (newer versions win) into the indexed shadow, chunk_rows per statement.
void upsert_shadow(pqxx::transaction_base& tx, const ProjectionDef& p,
                   const std::vector<const OrderView*>& views, std::size_t chunk_rows = 5000);

// One COPY text line (tab-separated, \N for null, escaped) for a view, without the newline.
// Columns in copy_columns(kind) order. Exposed for unit tests.
std::vector<std::string> copy_columns(ProjectionKind kind);
std::string copy_timestamp(std::int64_t unix_us);  // "2026-11-26 23:22:45.123456+00"

// ---- verified cutover ----
struct TableDigest {
  std::int64_t rows = 0;
  std::string checksum;  // sum of 64-bit row hashes (sql/functions/rebuild_table_digest.sql)
  bool operator==(const TableDigest&) const = default;
};
struct TableDiff {
  std::int64_t only_live = 0;    // rows the rebuild does not produce
  std::int64_t only_shadow = 0;  // rows missing from the live table
  std::int64_t changed = 0;      // same key, different row
  std::int64_t behind = 0;       // of those, live version lower: live projector lagging
  nlohmann::json examples;       // [{"key","live","shadow"}]
};
struct LinesDiff {
  std::int64_t orders = 0;  // orders whose lines differ
  nlohmann::json examples;  // [{"key","live": lines,"shadow": lines}]
};
// One scope of a comparison (sql/functions/rebuild_scope.sql).
struct ComparisonPart {
  TableDigest live;
  TableDigest shadow;
  TableDigest live_lines;
  TableDigest shadow_lines;
  TableDiff diff;        // filled only when the rows' digests differ
  LinesDiff lines_diff;  // filled only when the lines' digests differ
  bool identical() const { return live == shadow && live_lines == shadow_lines; }
};
// All rows; Settled: orders without an event after `after`; Keys: the orders of `keys` (a JSON
// array of order ids).
enum class CompareScope { All, Settled, Keys };
// The verified cutover's comparison: the rows of the orders settled at global position
// settled_through, compared before the cutover lock (the bulk of the work, the live projector
// keeps applying), and the orders with later events, compared under the lock (`delta`).
struct Comparison : ComparisonPart {
  std::int64_t settled_through = 0;
  ComparisonPart delta;
  bool identical() const { return ComparisonPart::identical() && delta.identical(); }
};
ComparisonPart compare_with_live(pqxx::transaction_base& tx, const ProjectionDef& p, int examples,
                                 CompareScope scope, std::int64_t after = 0,
                                 const std::string& keys = "[]");
// Human-readable report of a comparison (several lines).
std::string describe(const ProjectionDef& p, const Comparison& c);

// projections.state = 'live' / 'rebuilding'
void set_projection_state(pqxx::transaction_base& tx, const std::string& name,
                          const std::string& state);

}  // namespace orders::read_side::rebuild

namespace orders::read_side::rebuild {
// Replaces the projection's per-partition checkpoints with what the rebuild applied.
void replace_checkpoints(
    pqxx::transaction_base& tx, const std::string& projection,
    const nlohmann::json&
        partitions);  // [{"partition","last_global_position","last_recorded_at_us","events_applied"}]
}  // namespace orders::read_side::rebuild
