// The pipeline benchmark's HTTP load: C keep-alive connections to a write-side (or a peer with the
// same command bodies), spread over a few epoll driver threads, closed loop (rate 0) or open loop
// at a fixed rate. Each connection runs order scripts: CreateOrder, then AddItem on that order, and
// (full mix) Confirm and Ship at the end. A fixed stride of acknowledged commands is handed to a
// prober thread that asks a read-side GET /orders/{id}?min_version=V: the 2xx -> visible lag.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace orders::bench::pipeline {

using Clock = std::chrono::steady_clock;

struct LoadSpec {
  int port = 0;
  int connections = 64;
  int threads = 2;               // epoll driver threads
  int rate = 0;                  // commands/s over all connections; 0 = as fast as answered
  bool confirm_and_ship = true;  // false: CreateOrder + AddItem only (the Emmett peer)
  int items_per_order = 7;       // AddItem commands per order
  std::string tag = "pipe";      // order-id prefix, unique per run
  std::vector<int> probe_ports;  // read-side ports; empty = no lag probes
  int probe_stride = 20;         // every k-th acknowledged command of a connection, staggered
  int probe_connections = 32;    // per read-side port
};

struct LoadResult {
  double seconds = 0;  // length of the measurement window
  std::int64_t ok = 0, errors = 0;
  std::map<int, std::int64_t> statuses;  // non-2xx HTTP status -> count (0 = no answer)
  std::vector<std::uint32_t> latency_us;
  std::vector<double> lag_ms;
  std::int64_t probes_failed = 0;
  std::size_t probes_max_queued = 0;  // probes that waited for a free prober connection, at most
  std::string first_error;            // an example non-2xx body
};

class Load {
 public:
  explicit Load(LoadSpec spec);
  ~Load();
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  void start();
  void measure_begin();  // commands sent from now on are counted
  void measure_end();    // ... until now
  // Stops sending; waits for answers still out (deadline). Returns when the last answer arrived.
  Clock::time_point stop(std::chrono::milliseconds deadline = std::chrono::seconds(15));
  // Waits for the lag probes still out (deadline) and collects every figure.
  LoadResult result(std::chrono::milliseconds deadline = std::chrono::seconds(15));
  std::int64_t acknowledged() const;  // 2xx so far, measured or not

 private:
  struct Shared;
  class Driver;
  class Prober;
  LoadSpec spec_;
  std::shared_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Driver>> drivers_;
  std::unique_ptr<Prober> prober_;
  std::vector<std::thread> threads_;
};

}  // namespace orders::bench::pipeline
