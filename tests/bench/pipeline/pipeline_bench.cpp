// The whole pipeline as deployed, driven over HTTP (not a ctest test):
//
//   pipeline_bench [--seconds 20] [--warmup 2] [--connections 64] [--rate 0] [--threads 2]
//                  [--no-peers] [--no-write-alone] [--log-compare] [--peer-seconds S]
//   pipeline_bench --preload 0,1000000,10000000 [--growth] [--payload-sample 20000] [--lock F]
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
// --preload: per store size a fresh database with that many events bulk-loaded first, the read
// model and the stream brought to the same head, then the same pipeline load and the GET
// latencies on old and new orders (preloaded.hpp); --growth adds issue 13's growth table.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/pipeline/preloaded.hpp"
#include "tests/bench/pipeline/report.hpp"
#include "tests/bench/pipeline/runs.hpp"

using namespace orders::bench::pipeline;

namespace {

constexpr int kPayloadPad = 32768;  // the large events' metadata blob, characters

const char* kUsage =
    "usage: pipeline_bench [--seconds S (20)] [--warmup S (2)] [--connections C (64)]\n"
    "       [--rate R (0 = as fast as possible)] [--threads T (2)] [--no-peers]\n"
    "       [--no-write-alone] [--log-compare] [--peer-seconds S (= --seconds)]\n"
    "       [--preload N[,N...] (stored events per run; no peers or write-alone runs then)]\n"
    "       [--rounds R (1; loads alternate between the stores)] [--growth]\n"
    "       [--archive-fraction F (0.1)] [--get-requests N (1000)]\n"
    "       [--payload-sample EVENTS (0: off; 32 KB metadata, lz4 vs pglz)] [--lock FILE]\n"
    "environment: PEERS_DIR (default tests/bench/pipeline/peers), WRITE_SIDE_BIN, READ_SIDE_BIN\n";

// "0,1000000,10000000" (also 1M, 10M, 500k).
std::vector<std::int64_t> parse_sizes(const std::string& text) {
  std::vector<std::int64_t> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    std::size_t used = 0;
    double v = std::stod(item, &used);
    const std::string unit = item.substr(used);
    if (unit == "k" || unit == "K")
      v *= 1e3;
    else if (unit == "m" || unit == "M")
      v *= 1e6;
    else if (!unit.empty())
      throw std::invalid_argument("--preload: bad size " + item);
    if (v < 0) throw std::invalid_argument("--preload: sizes must be >= 0");
    out.push_back(static_cast<std::int64_t>(v));
  }
  if (out.empty()) throw std::invalid_argument("--preload needs at least one size");
  return out;
}

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
    else if (a == "--preload")
      o.preload = parse_sizes(next());
    else if (a == "--rounds")
      o.rounds = std::stoi(next());
    else if (a == "--growth")
      o.growth = true;
    else if (a == "--archive-fraction")
      o.archive_fraction = std::stod(next());
    else if (a == "--get-requests")
      o.get_requests = std::stoi(next());
    else if (a == "--payload-sample")
      o.payload_events = std::stoll(next());
    else if (a == "--lock")
      o.lock_file = next();
    else
      throw std::invalid_argument("unknown option " + a);
  }
  if (o.seconds <= 0 || o.connections <= 0 || o.rate < 0 || o.threads <= 0 || o.get_requests <= 0 ||
      o.rounds <= 0 || o.archive_fraction <= 0 || o.archive_fraction > 1 || o.payload_events < 0) {
    throw std::invalid_argument(
        "--seconds, --connections, --threads, --get-requests, --rounds must be > 0, "
        "--rate, --payload-sample >= 0, --archive-fraction in (0, 1]");
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

// --preload / --payload-sample: the preloaded runs and the tables of preloaded.hpp.
int run_growth(orders::testing::PgServer& pg, const Options& o, const std::string& command) {
  // Every store prepared first, then the rounds alternate between them, so drift in what else
  // loads the machine hits every store size alike.
  std::vector<PreparedStore> stores;
  for (const auto n : o.preload) {
    std::fprintf(stderr, "preload: %lld events...\n", static_cast<long long>(n));
    stores.push_back(prepare_preloaded(n));
  }
  for (int round = 0; round < o.rounds; ++round)
    for (auto& s : stores) drive_preloaded(s, o, round);
  std::vector<PreloadRun> runs;
  for (auto& s : stores) {
    finish_preloaded(s, o);
    runs.push_back(std::move(s.result));
  }
  stores.clear();
  std::optional<std::pair<orders::bench::StoreSize, orders::bench::StoreSize>> payload;
  if (o.payload_events > 0) {
    std::fprintf(stderr, "payload sample: %lld events with 32 KB metadata...\n",
                 static_cast<long long>(o.payload_events));
    payload = payload_sample(pg, o.payload_events, kPayloadPad);
  }
  if (!runs.empty()) print_preloaded(o, runs);
  if (payload) print_payload_sample(o.payload_events, kPayloadPad, *payload);
  std::printf("\nreproduce: %s\n", command.c_str());
  return 0;
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
  if (!o.preload.empty() || o.payload_events > 0) return run_growth(pg, o, command);
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
