// The runs of the pipeline benchmark, each on a fresh database of one PostgreSQL cluster: the whole
// stack as deployed (write-side with its relay, nats-server, two read-side replicas, shipped
// defaults), the write-side alone (relay off), and the peers (Emmett's order service under the same
// HTTP load; Message DB and Emmett appends by their own scripts).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/bench/pipeline/load_driver.hpp"
#include "tests/support/services.hpp"

namespace orders::bench::pipeline {

struct Options {
  double seconds = 20;
  double warmup = 2;
  int connections = 64;
  int rate = 0;
  int threads = 2;
  bool peers = true;
  bool log_compare = false;
  bool write_alone = true;
  double peer_seconds = 0;     // 0: --seconds
  std::string peers_dir;       // the peer scripts (tests/bench/pipeline/peers)
  std::string peers_dir_work;  // scratch folder for their npm installs
  // --preload N[,N...]: one preloaded run per store size instead of the runs above
  std::vector<std::int64_t> preload;
  int rounds = 1;                   // --rounds: loads per preloaded store, alternating
  bool growth = false;              // --growth: rebuild, archive, sizes per preloaded run
  double archive_fraction = 0.1;    // --archive-fraction: of the preloaded orders, archived
  int get_requests = 1000;          // --get-requests: GETs per path and old/new
  std::int64_t payload_events = 0;  // --payload-sample N: 32 KB-metadata events, lz4 vs pglz
  std::string lock_file;            // --lock FILE: flock held over the measured phases
};

struct RunResult {
  std::string name;
  LoadResult load;
  double cmds_per_s = 0;
  double p50_ms = 0, p99_ms = 0, lag_p50_ms = 0, lag_p99_ms = 0;
  std::optional<double> drain_s;         // load stop -> every projection applied everything
  std::map<std::string, double> cpu_us;  // part -> CPU microseconds per command
  std::string note;
};

// A running pipeline as deployed: nats-server, a write-side (relay on), two read-side replicas.
struct Stack {
  testing::NatsServer nats;
  std::string db, log_level;
  int wport = 0;
  std::vector<int> rports;
  std::unique_ptr<testing::Process> ws;
  std::vector<std::unique_ptr<testing::Process>> rs;
};
// Starts the stack on `db`; `before` (may be empty) runs once nats-server is up and before the
// services start, with its URL (a preload primes the stream there).
std::unique_ptr<Stack> start_stack(const std::string& db, const std::string& log_level,
                                   const std::function<void(const std::string&)>& before);
// The measured HTTP load on a running stack (order ids prefixed by `tag`), drain and lag.
RunResult drive_pipeline(Stack& s, const Options& o, const std::string& tag);

// LOG_LEVEL is the only setting that differs from the shipped defaults (info) in a --log-compare.
RunResult run_pipeline(testing::PgServer& pg, const Options& o, const std::string& log_level);
RunResult run_write_alone(testing::PgServer& pg, const Options& o);
// The Emmett peer service; nullopt with `why` set when it cannot run here (no node, no npm).
std::optional<RunResult> run_emmett_orders(testing::PgServer& pg, const Options& o,
                                           std::string& why);
// The append peers' own summary lines, or "peer skipped: <why>".
std::vector<std::string> run_append_peers(testing::PgServer& pg, const Options& o);

// Figures of a finished load: throughput, percentiles, CPU per command.
void summarize(RunResult& r, const std::map<std::string, double>& cpu_seconds);
double percentile(std::vector<double> v, double p);

}  // namespace orders::bench::pipeline
