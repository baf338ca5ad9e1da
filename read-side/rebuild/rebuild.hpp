// read-side rebuild-projection NAME... | --all [--dry-run]
//
// Rebuilds projections from the event store (the source of truth) without query downtime:
//  1. takes the projection's run lock (a second rebuild of it is refused) and marks it
//     "rebuilding" (GET /projections);
//  2. replays the global log (global_log JOIN events, pages of global positions read ahead on
//     two connections in parallel) and folds every order in memory with the live projector's fold;
//  3. writes the views into the shadow tables with COPY (one connection per table, in parallel),
//     chunked transactions (a long write transaction would hold vacuum's xmin horizon back),
//     then builds the live table's indexes on the shadow, one transaction each, and ANALYZE;
//  4. catches up with new events (multi-row upserts) until close to the head;
//  5. verified cutover in ONE transaction: the projection's cutover lock EXCLUSIVE (live apply
//     transactions take it shared), the final tail, compare shadow vs live (row count + checksum
//     per table, what differs), then swap (drop live, rename shadow and its indexes), checkpoints
//     set to what the rebuild applied, state back to "live". --dry-run compares and drops the
//     shadow.
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
  int page_size = 20000;                // events per keyset page
  std::size_t copy_chunk_rows = 25000;  // rows per COPY transaction
  std::int64_t near_head = 2000;        // catch-up ends within this many events of the head
  int max_catch_up_rounds = 20;
  // Shadow UNLOGGED during the COPY, then SET LOGGED (a rewrite) before the indexes. Off: at
  // 100k orders the LOGGED COPY measured faster overall (write+index 6.1 s vs 8.5 s, loaded
  // machine), as SET LOGGED writes the table a second time. tests/bench/rebuild runs both.
  bool unlogged_load = false;
  std::chrono::milliseconds swap_lock_timeout{2000};  // per attempt to take the table locks
  int swap_attempts = 5;
  int diff_examples = 5;
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
  double replay_seconds = 0.0;   // initial replay (read + fold)
  double write_seconds = 0.0;    // COPY + indexes
  double cutover_seconds = 0.0;  // the exclusive-lock transaction
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
