// read-side rebuild-projection NAME... | --all [--dry-run]
//
// Rebuilds projections from the event store (the source of truth) without query downtime, in
// memory bounded whatever the store's size:
//  1. takes the projection's run lock (a second rebuild of it is refused) and marks it
//     "rebuilding" (GET /projections);
//  2. folds the store up to its head order by order ((stream_id, version) keyset pages of the
//     events index, fold_workers ranges of order ids in parallel) with the live projector's
//     fold, copying each chunk of finished views into the shadow tables with COPY (short
//     transactions: a long one would hold vacuum's xmin horizon back): a page and a chunk in
//     memory per worker, never every order's view;
//  3. builds the live table's indexes on the shadows, one transaction each, and ANALYZE;
//  4. catches up with new events (the orders a page of the log touches folded again from the
//     store and upserted) until close to the head;
//  5. compares, BEFORE the cutover lock, the orders settled at a snapshot (no event after the
//     shadows' and the live checkpoints' positions) between shadow and live (row count +
//     checksum per table, what differs), then catches up again;
//  6. verified cutover in ONE transaction: the projection's cutover lock EXCLUSIVE (live apply
//     transactions take it shared: the projector is held from the request to the commit), the
//     final tail, the compare of only the orders with events after the settled position, then
//     swap (drop live, rename shadow and its indexes), checkpoints set to what the rebuild
//     applied, state back to "live". --dry-run compares and drops the shadow.
// A failure at any step drops the shadow tables and leaves the live tables untouched.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "read-side/projector/view_store.hpp"
#include "read-side/rebuild/progress.hpp"
#include "read-side/rebuild/replay.hpp"
#include "read-side/rebuild/shadow.hpp"

namespace orders::read_side::rebuild {

struct RebuildOptions {
  std::vector<ProjectionDef> projections;
  bool dry_run = false;
  int page_size = 20000;                    // events per keyset page
  int fold_workers = 2;                     // ranges of order ids folded in parallel
  std::size_t page_bytes = 4 << 20;         // a fold page's events at most about this much (text)
  std::size_t copy_chunk_bytes = 16 << 20;  // and a chunk's views about this much in memory
  std::size_t copy_chunk_rows = 25000;      // rows per COPY transaction
  std::int64_t near_head = 2000;            // catch-up ends within this many events of the head
  int max_catch_up_rounds = 20;
  // Shadow UNLOGGED during the COPY, then SET LOGGED (a rewrite) before the indexes. Off: at
  // 100k orders the LOGGED COPY measured faster overall (write+index 6.1 s vs 8.5 s, loaded
  // machine), as SET LOGGED writes the table a second time. tests/bench/rebuild runs both.
  bool unlogged_load = false;
  std::chrono::milliseconds swap_lock_timeout{2000};  // per attempt to take the table locks
  int swap_attempts = 5;
  int diff_examples = 5;
  // At most this many events before the shadows' position are left to the compare under the
  // lock (a live projector further behind: its missing rows are reported as differences).
  std::int64_t verify_window = 200000;
};

struct AlreadyRunning : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ProjectionOutcome {
  std::string name;
  Comparison comparison;
};

struct RebuildResult {
  std::int64_t events = 0;  // events replayed
  std::int64_t orders = 0;  // rows per table
  std::int64_t last_global_position = 0;
  double seconds = 0.0;
  double replay_seconds = 0.0;     // the bulk fold (read + fold + COPY)
  double write_seconds = 0.0;      // the indexes
  double compare_seconds = 0.0;    // the compare before the cutover lock
  double cutover_seconds = 0.0;    // the projector's hold: cutover lock request to commit
  double lock_wait_seconds = 0.0;  // of which waiting for in-flight live applies
  bool swapped = false;
  std::vector<ProjectionOutcome> projections;
  std::map<std::string, ParkedOrder> parked;  // orders whose events do not all fold (skipped)
};

// Runs a rebuild. Throws AlreadyRunning (nothing touched), RebuildError or pqxx errors (the
// shadow tables dropped and the projections marked live again before the throw).
RebuildResult rebuild(const std::string& database_url, const RebuildOptions& options,
                      Progress& progress);

// The subcommand: args after "rebuild-projection". Returns the exit code (common/cli/exit_code):
// 0 success, 64 usage, 69 unreachable, 70 failure, 75 another rebuild of it is running.
int rebuild_projection_main(const std::string& database_url, const std::vector<std::string>& args,
                            std::ostream& out, std::ostream& err, bool tty);
std::string rebuild_usage();

}  // namespace orders::read_side::rebuild
