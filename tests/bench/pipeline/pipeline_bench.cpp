// The whole pipeline as deployed, driven over HTTP (not a ctest test):
//
//   pipeline_bench [--seconds 20] [--warmup 2] [--connections 64] [--rate 0] [--threads 2]
//                  [--no-peers] [--no-write-alone] [--log-compare] [--peer-seconds S]
//
// One PostgreSQL cluster (fsync on); per run a fresh database. The pipeline run starts
// nats-server, a write-side (relay on) and two read-side replicas with the settings
// deploy/local/stack.sh gives them (LOG_LEVEL=info, everything else the binaries' defaults), drives
// the write-side with --connections keep-alive connections (CreateOrder, 7 AddItem, Confirm, Ship
// per order; --rate 0 = as fast as answered, else open loop at that many commands/s), probes every
// 20th acknowledged command on a read-side (GET /orders/{id}?min_version=V, alternating replicas)
// and prints commands/s, command p50/p99, errors, the time until both projections have applied
// everything after the load stops, the 2xx -> visible lag, CPU per command of every process and of
// the Postgres backends by role, each target beside its figure, and the baselines of the same run:
// the write-side alone (relay off), Emmett's order service under the same load, and the Message DB
// and Emmett append benchmarks (tests/bench/pipeline/peers, installed from npm by name).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>

#include "tests/bench/pipeline/report.hpp"
#include "tests/bench/pipeline/runs.hpp"

using namespace orders::bench::pipeline;

namespace {

const char* kUsage =
    "usage: pipeline_bench [--seconds S (20)] [--warmup S (2)] [--connections C (64)]\n"
    "       [--rate R (0 = as fast as possible)] [--threads T (2)] [--no-peers]\n"
    "       [--no-write-alone] [--log-compare] [--peer-seconds S (= --seconds)]\n"
    "environment: PEERS_DIR (default tests/bench/pipeline/peers), WRITE_SIDE_BIN, READ_SIDE_BIN\n";

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--seconds")
      o.seconds = std::stod(next());
    else if (a == "--warmup")
      o.warmup = std::stod(next());
    else if (a == "--connections")
      o.connections = std::stoi(next());
    else if (a == "--rate")
      o.rate = std::stoi(next());
    else if (a == "--threads")
      o.threads = std::stoi(next());
    else if (a == "--peer-seconds")
      o.peer_seconds = std::stod(next());
    else if (a == "--no-peers")
      o.peers = false;
    else if (a == "--no-write-alone")
      o.write_alone = false;
    else if (a == "--log-compare")
      o.log_compare = true;
    else
      throw std::invalid_argument("unknown option " + a);
  }
  if (o.seconds <= 0 || o.connections <= 0 || o.rate < 0 || o.threads <= 0) {
    throw std::invalid_argument("--seconds, --connections, --threads must be > 0, --rate >= 0");
  }
  if (o.peer_seconds <= 0) o.peer_seconds = o.seconds;
  const char* dir = std::getenv("PEERS_DIR");
  o.peers_dir = dir != nullptr && *dir != '\0' ? dir : PIPELINE_PEERS_DIR;
  return o;
}

std::string scratch_dir() {
  std::string templ = (std::filesystem::temp_directory_path() / "pipeline-peers-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return templ;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n" << kUsage;
    return 2;
  }
  std::string command = argv[0];
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  orders::testing::PgServer pg;
  Report report(o, command);
  std::fprintf(stderr, "pipeline run (LOG_LEVEL=info, shipped defaults)...\n");
  report.pipeline = run_pipeline(pg, o, "info");
  if (o.log_compare) {
    std::fprintf(stderr, "pipeline run (LOG_LEVEL=warn)...\n");
    report.pipeline_warn = run_pipeline(pg, o, "warn");
  }
  if (o.write_alone) {
    std::fprintf(stderr, "write-side alone...\n");
    report.write_alone = run_write_alone(pg, o);
  }
  if (o.peers) {
    o.peers_dir_work = scratch_dir();
    std::fprintf(stderr, "peer: Emmett orders service...\n");
    report.emmett = run_emmett_orders(pg, o, report.emmett_why);
    std::fprintf(stderr, "peers: Message DB and Emmett appends...\n");
    report.append_peers = run_append_peers(pg, o);
    std::error_code ec;
    std::filesystem::remove_all(o.peers_dir_work, ec);
  }
  report.print();
  return 0;
}
