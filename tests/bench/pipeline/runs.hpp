// The runs of the pipeline benchmark, each on a fresh database of one PostgreSQL cluster: the whole
// stack as deployed (write-side with its relay, nats-server, two read-side replicas, shipped
// defaults), the write-side alone (relay off), and the peers (Emmett's order service under the same
// HTTP load; Message DB and Emmett appends by their own scripts).
#pragma once
#include <map>
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
