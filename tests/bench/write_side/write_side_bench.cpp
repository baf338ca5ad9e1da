// Write-side command throughput and latency over HTTP, group commit on vs off, side by side.
//
//   write_side_bench [--seconds S] [--warmup S] [--clients 1,16,64] [--database-url URL]
//                    [--driver-threads 2] [--group-commit-only] [--extra KEY=VALUE ...]
//
// Starts its own PostgreSQL (fsync on, tests/support PgServer) unless --database-url is given,
// then, for GROUP_COMMIT=on and =off, a write-side (RELAY_ENABLED=off) on a fresh database, and
// drives it with C keep-alive clients: one connection per client, spread over --driver-threads
// epoll loops (as pgbench -j 2 spreads its clients over 2 threads). Each client loops:
// create an order, add 9 items to it; every request is one command. Prints commands/s and
// p50/p99 latency per client count, the ratio on/off, and the reproduce command.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "tests/support/http_wire.hpp"
#include "tests/support/services.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using orders::testing::connect_nonblocking;
using orders::testing::PgServer;
using orders::testing::receive_available;
using orders::testing::take_response;

// ---- the load driver: keep-alive HTTP/1.1 connections on one epoll loop per driver thread ----
// (Like pgbench -j or wrk: a few threads drive many connections, so the driver's own context
// switches do not compete with the service for the 2 cores the way one thread per client would.)
struct Counters {
  std::vector<std::uint32_t> latency_us;
  long long ok = 0, errors = 0;
};

class Driver {
 public:
  Driver(int port, std::string tag, int first_client, int clients)
      : port_(port), tag_(std::move(tag)), first_(first_client), ep_(::epoll_create1(0)) {
    if (ep_ < 0) throw std::runtime_error("epoll_create1 failed");
    conns_.resize(static_cast<std::size_t>(clients));
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      conns_[i].client = first_ + static_cast<int>(i);
      open(conns_[i]);
    }
  }
  ~Driver() {
    for (auto& c : conns_)
      if (c.fd >= 0) ::close(c.fd);
    ::close(ep_);
  }
  // Runs until stop; counts responses while measuring is set.
  void loop(const std::atomic<bool>& measuring, const std::atomic<bool>& stop, Counters& out) {
    std::vector<epoll_event> events(conns_.size() + 1);
    while (!stop.load(std::memory_order_relaxed)) {
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 50);
      for (int i = 0; i < n; ++i) {
        auto& c = conns_[events[static_cast<std::size_t>(i)].data.u32];
        if (events[static_cast<std::size_t>(i)].events & (EPOLLERR | EPOLLHUP)) {
          fail(c, measuring, out);
          continue;
        }
        if (events[static_cast<std::size_t>(i)].events & EPOLLOUT) flush(c, measuring, out);
        if (events[static_cast<std::size_t>(i)].events & EPOLLIN) receive(c, measuring, out);
      }
    }
  }

 private:
  struct Conn {
    int client = 0;
    int fd = -1;
    long long n = 0;  // requests sent on behalf of this client
    std::string order;
    std::string out;
    std::size_t sent = 0;
    std::string in;
    Clock::time_point t0;
  };

  void open(Conn& c) {
    c.fd = connect_nonblocking(port_);  // EINPROGRESS: EPOLLOUT says
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = static_cast<std::uint32_t>(c.client - first_);
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    c.in.clear();
    next_request(c);
  }

  // Each client loops: create an order, add 9 items to it.
  void next_request(Conn& c) {
    const long long step = c.n % 10;
    std::string target, body;
    if (step == 0) {
      c.order = tag_ + "-c" + std::to_string(c.client) + "-o" + std::to_string(c.n / 10);
      target = "/orders";
      body = "{\"order_id\":\"" + c.order + "\",\"customer_id\":\"cust-" +
             std::to_string(c.client) + "\"}";
    } else {
      target = "/orders/" + c.order + "/items";
      body =
          "{\"product_id\":\"p-" + std::to_string(step) + "\",\"quantity\":1,\"price\":\"9.99\"}";
    }
    ++c.n;
    c.out = "POST " + target +
            " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
    c.sent = 0;
    c.t0 = Clock::now();
  }

  void flush(Conn& c, const std::atomic<bool>& measuring, Counters& out) {
    while (c.sent < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS)) {
        return;  // EPOLLOUT stays on
      } else {
        fail(c, measuring, out);
        return;
      }
    }
    epoll_event ev{};  // all sent: wait for the response only
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(c.client - first_);
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void receive(Conn& c, const std::atomic<bool>& measuring, Counters& out) {
    if (!receive_available(c.fd, c.in)) {
      fail(c, measuring, out);
      return;
    }
    auto r = take_response(c.in);
    if (!r) return;
    const int status = r->status;
    if (measuring.load(std::memory_order_relaxed)) {
      if (status == 200 || status == 201) {
        ++out.ok;
        out.latency_us.push_back(static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.t0).count()));
      } else {
        ++out.errors;
      }
    }
    next_request(c);
    flush(c, measuring, out);  // usually sends at once; else EPOLLOUT finishes it
    if (c.sent < c.out.size()) {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT;
      ev.data.u32 = static_cast<std::uint32_t>(c.client - first_);
      ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    }
  }

  // A broken connection: count the request as failed, reconnect, start the order's next request.
  void fail(Conn& c, const std::atomic<bool>& measuring, Counters& out) {
    if (measuring.load(std::memory_order_relaxed)) ++out.errors;
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    open(c);
  }

  int port_;
  std::string tag_;
  int first_;
  int ep_;
  std::vector<Conn> conns_;
};

// Whole-machine CPU counters (/proc/stat): (busy, total) jiffies.
std::pair<long long, long long> cpu_jiffies() {
  std::FILE* f = std::fopen("/proc/stat", "r");
  if (!f) return {0, 0};
  long long v[10] = {0};
  int n = std::fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1],
                      &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
  std::fclose(f);
  long long total = 0;
  for (int i = 0; i < n && i < 8; ++i) total += v[i];
  return {total - v[3] - v[4], total};
}

double load_average() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  double l = 0;
  if (f) {
    if (std::fscanf(f, "%lf", &l) != 1) l = 0;
    std::fclose(f);
  }
  return l;
}

struct RunResult {
  double cmds_per_s = 0;
  double p50_ms = 0, p99_ms = 0;
  long long ok = 0, errors = 0;
  double avg_batch = 0;
  double machine_busy = 0;  // % of both cores busy during the measurement (everything, not just us)
  double load_before = 0;   // 1-minute load average when the point started
  // CPU per command (us) of the write-side process, its Postgres backends, and this driver: what a
  // command costs whatever else runs on the machine.
  double ws_us = 0, pg_us = 0, driver_us = 0;
};

struct CpuSample {
  double ws = 0, pg = 0, driver = 0;
};
// The write-side's connections stay open for the whole run, so their backends' CPU is comparable.
CpuSample cpu_sample(int ws_pid, const std::string& db) {
  CpuSample c;
  using orders::testing::process_cpu_seconds;
  c.ws = process_cpu_seconds(std::to_string(ws_pid));
  c.driver = process_cpu_seconds("self");
  try {
    pqxx::connection conn(db);
    pqxx::read_transaction tx(conn);
    for (const auto& row :
         tx.exec("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                 "AND pid <> pg_backend_pid()")) {
      c.pg += process_cpu_seconds(row[0].c_str());
    }
  } catch (const std::exception&) {
  }
  return c;
}

double percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  std::size_t k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;
}

// Reads "name value" of a Prometheus line from /metrics.
double metric(int port, const std::string& name) {
  orders::testing::HttpClient c("127.0.0.1", port);
  auto body = c.get("/metrics").body;
  auto at = body.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::stod(body.substr(at + name.size() + 2));
}

RunResult run(int port, int ws_pid, const std::string& db, int clients, int driver_threads,
              double warmup_s, double seconds, const std::string& tag) {
  std::atomic<bool> measuring{false}, stop{false};
  const int threads_n = std::max(1, std::min(driver_threads, clients));
  std::vector<Counters> counters(static_cast<std::size_t>(threads_n));
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_n; ++t) {
    const int first = clients * t / threads_n, last = clients * (t + 1) / threads_n;
    threads.emplace_back([&, t, first, last] {
      Driver driver(port, tag, first, last - first);
      driver.loop(measuring, stop, counters[static_cast<std::size_t>(t)]);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(warmup_s));  // warm-up, not measured
  const double load_before = load_average();
  const auto cpu0 = cpu_jiffies();
  const auto own0 = cpu_sample(ws_pid, db);
  const double batches0 = metric(port, "orders_group_commit_batch_size_count");
  const double cmds0 = metric(port, "orders_group_commit_batch_size_sum");
  measuring = true;
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  measuring = false;
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto cpu1 = cpu_jiffies();
  const auto own1 = cpu_sample(ws_pid, db);
  const double batches1 = metric(port, "orders_group_commit_batch_size_count");
  const double cmds1 = metric(port, "orders_group_commit_batch_size_sum");
  stop = true;
  for (auto& t : threads) t.join();

  RunResult r;
  std::vector<std::uint32_t> all;
  for (const auto& c : counters) {
    r.ok += c.ok;
    r.errors += c.errors;
    all.insert(all.end(), c.latency_us.begin(), c.latency_us.end());
  }
  r.cmds_per_s = static_cast<double>(r.ok) / elapsed;
  r.p50_ms = percentile(all, 0.50);
  r.p99_ms = percentile(all, 0.99);
  r.avg_batch = batches1 > batches0 ? (cmds1 - cmds0) / (batches1 - batches0) : 0;
  r.load_before = load_before;
  if (cpu1.second > cpu0.second) {
    r.machine_busy = 100.0 * static_cast<double>(cpu1.first - cpu0.first) /
                     static_cast<double>(cpu1.second - cpu0.second);
  }
  if (r.ok > 0) {
    const double n = static_cast<double>(r.ok);
    r.ws_us = (own1.ws - own0.ws) * 1e6 / n;
    r.pg_us = (own1.pg - own0.pg) * 1e6 / n;
    r.driver_us = (own1.driver - own0.driver) * 1e6 / n;
  }
  return r;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoi(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 8, warmup = 2;
  int driver_threads = 2;
  bool group_commit_only = false;  // skip the GROUP_COMMIT=off runs (quick iterations)
  std::vector<int> client_counts = {1, 16, 64};
  std::string database_url;
  std::map<std::string, std::string> extra;
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--seconds")
      seconds = std::stod(next());
    else if (a == "--warmup")
      warmup = std::stod(next());
    else if (a == "--clients")
      client_counts = parse_list(next());
    else if (a == "--driver-threads")
      driver_threads = std::stoi(next());
    else if (a == "--group-commit-only")
      group_commit_only = true;
    else if (a == "--database-url")
      database_url = next();
    else if (a == "--extra") {
      auto kv = next();
      auto eq = kv.find('=');
      if (eq == std::string::npos) throw std::runtime_error("--extra KEY=VALUE");
      extra[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else {
      std::cerr << "usage: write_side_bench [--seconds S] [--warmup S] [--clients 1,16,64] "
                   "[--database-url URL] [--driver-threads 2] [--group-commit-only] [--extra "
                   "KEY=VALUE]\n";
      return 2;
    }
  }

  std::unique_ptr<PgServer> own_pg;
  auto new_database = [&](const std::string& hint) {
    if (!database_url.empty()) return database_url;
    if (!own_pg) own_pg = std::make_unique<PgServer>();
    return own_pg->create_database(hint);
  };

  struct Mode {
    std::string name;
    std::string group_commit;
    std::map<int, RunResult> results;
  };
  std::vector<Mode> modes = {{"on", "on", {}}, {"off", "off", {}}};
  for (auto& mode : modes) {
    if (group_commit_only && mode.name == "off") continue;
    const std::string db = new_database("bench_gc_" + mode.name);
    const int port = orders::testing::free_port();
    std::map<std::string, std::string> env = {
        {"DATABASE_URL", db},   {"WRITE_PORT", std::to_string(port)}, {"RELAY_ENABLED", "off"},
        {"LOG_LEVEL", "warn"},  {"GROUP_COMMIT", mode.group_commit},  {"PG_POOL_SIZE", "18"},
        {"HTTP_WORKERS", "128"}};
    for (auto& [k, v] : extra) env[k] = v;
    auto proc = orders::testing::start_service(orders::testing::write_side_binary(), {}, env, port);
    for (int clients : client_counts) {
      auto r = run(port, proc->pid(), db, clients, driver_threads, warmup, seconds,
                   "gc" + mode.name + "-n" + std::to_string(clients));
      std::fprintf(stderr,
                   "GROUP_COMMIT=%-3s clients=%-3d %9.0f cmds/s  p50 %6.2f ms  p99 %6.2f ms  "
                   "avg batch %5.1f  errors %lld  machine busy %3.0f%%  load before %.1f  "
                   "CPU/cmd: write-side %.0f us, its PG backends %.0f us, driver %.0f us\n",
                   mode.name.c_str(), clients, r.cmds_per_s, r.p50_ms, r.p99_ms, r.avg_batch,
                   r.errors, r.machine_busy, r.load_before, r.ws_us, r.pg_us, r.driver_us);
      mode.results[clients] = r;
    }
    proc->signal(SIGTERM);
    proc->wait(std::chrono::seconds(20));
  }

  std::printf(
      "\nwrite-side commands over HTTP (create + 9 AddItem per order, keep-alive clients, fsync "
      "on, "
      "%.0f s per point after %.0f s warm-up)\n\n",
      seconds, warmup);
  std::printf(
      "| clients | group commit ON cmds/s | p50 ms | p99 ms | avg batch | group commit OFF cmds/s "
      "| p50 ms | p99 ms | ON/OFF |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (int clients : client_counts) {
    const auto& on = modes[0].results[clients];
    const auto& off = modes[1].results[clients];
    std::printf("| %d | %.0f | %.2f | %.2f | %.1f | %.0f | %.2f | %.2f | %.2fx |\n", clients,
                on.cmds_per_s, on.p50_ms, on.p99_ms, on.avg_batch, off.cmds_per_s, off.p50_ms,
                off.p99_ms, off.cmds_per_s > 0 ? on.cmds_per_s / off.cmds_per_s : 0.0);
  }
  long long errors = 0;
  for (auto& m : modes)
    for (auto& [c, r] : m.results) errors += r.errors;
  std::printf("\nload average (1 min) at the start of each point, ON/OFF:");
  for (int clients : client_counts) {
    std::printf(" %d clients %.1f/%.1f;", clients, modes[0].results[clients].load_before,
                modes[1].results[clients].load_before);
  }
  std::printf(" (other work on the machine skews every figure; %d cores)\n",
              static_cast<int>(std::thread::hardware_concurrency()));
  std::printf("non-2xx or failed requests: %lld\n", errors);
  std::printf(
      "targets (issue 2): >= 15,000 cmds/s at 64 clients, p99 < 25 ms, >= 2x group commit off\n");
  std::printf(
      "baseline on this kind of machine (peers/LIMITS.md, pgbench, no HTTP): raw one-statement "
      "event+outbox insert ~19,000/s at 64 connections; Message DB write_message 3,000-5,100/s; "
      "Emmett appendToStream 3,500-4,500/s\n");
  std::printf("reproduce: %s\n", command_line.c_str());
  return 0;
}
