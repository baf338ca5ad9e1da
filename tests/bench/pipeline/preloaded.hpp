// The pipeline benchmark on a store that has been running for a long time (--preload N): N events
// bulk-loaded (tests/bench/preload), the read model rebuilt by the product's own
// `read-side rebuild-projection --all`, the JetStream stream primed at the same head; then the
// normal pipeline load, then the query latencies on old (preloaded) and new orders, and with
// --growth the growth figures of issue 13 (rebuild on the live stack, archive, bytes per event).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/bench/pipeline/runs.hpp"
#include "tests/bench/preload/preload.hpp"

namespace orders::bench::pipeline {

struct GetFigures {
  int requests = 0, errors = 0;
  double p50_ms = 0, p99_ms = 0;
};

struct RebuildFigures {
  bool ok = false;
  double seconds = 0, events_per_s = 0, held_s = 0;
  double peak_rss_mb = 0;
  std::string line;  // its summary line (or the tail of its output when it failed)
};

struct ArchiveFigures {
  bool ok = false;
  std::int64_t orders = 0, events = 0, row_bytes = 0;
  std::int64_t hot_before = 0, hot_after = 0;
  double seconds = 0, events_per_s = 0;
  std::string error;
};

struct PreloadRun {
  std::int64_t stored = 0;  // events preloaded
  double preload_s = 0;
  RebuildFigures initial;  // the preload's own rebuild (empty read model, no service running)
  StoreSize size;          // right after the preload
  std::vector<RunResult> rounds;  // one per --rounds, stores alternating
  const RunResult& best() const;  // the round with the most commands/s
  // "<path> old" / "<path> new" -> figures; path one of kGetPaths
  std::map<std::string, GetFigures> gets;
  std::optional<RebuildFigures> live_rebuild;  // --growth: on the full read model, stack running
  std::optional<ArchiveFigures> archive;       // --growth
};

// The three queries of issue 16 item 4.
inline const std::vector<std::string> kGetPaths = {"read-side GET /orders/{id}",
                                                   "write-side GET /orders/{id}/events",
                                                   "write-side GET /orders/{id}/state"};

// A preloaded store with its stack running, between the phases.
struct PreparedStore {
  PreparedStore();
  ~PreparedStore();
  PreparedStore(PreparedStore&&) noexcept;
  // Its own cluster: the read side's partition ownership reads pg_locks without a database
  // filter, so the replicas of a second database in one cluster would see the first one's locks
  // as taken and never own a partition.
  std::unique_ptr<testing::PgServer> pg;
  std::string db;
  std::int64_t orders = 0, preload_last_position = 0;
  std::unique_ptr<Stack> stack;
  PreloadRun result;
};
// Preload, the read model, the stream primed, the stack started.
PreparedStore prepare_preloaded(std::int64_t events);
// One measured pipeline load (round `round`), under the --lock.
void drive_preloaded(PreparedStore& p, const Options& o, int round);
// The GETs, with --growth the live rebuild and the archive; then the stack stopped and the
// cluster removed.
void finish_preloaded(PreparedStore& p, const Options& o);

// Bytes per event of events carrying a metadata blob of `pad` characters, with the shipped lz4
// compression of the payload columns (V051) and with pglz: {lz4, pglz}.
std::pair<StoreSize, StoreSize> payload_sample(testing::PgServer& pg, std::int64_t events, int pad);

void print_preloaded(const Options& o, const std::vector<PreloadRun>& runs);
void print_payload_sample(std::int64_t events, int pad, const std::pair<StoreSize, StoreSize>& s);

}  // namespace orders::bench::pipeline
