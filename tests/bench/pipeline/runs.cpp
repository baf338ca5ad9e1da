#include "tests/bench/pipeline/runs.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sstream>
#include <thread>

#include <pqxx/pqxx>

#include "tests/bench/pipeline/cpu_meter.hpp"

namespace orders::bench::pipeline {

using namespace std::chrono_literals;
using testing::free_port;
using testing::PgServer;
using testing::Process;
using testing::start_service;

namespace {

using Env = std::map<std::string, std::string>;

void sleep_s(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

// The settings deploy/local/stack.sh gives a service (everything else: the binary's defaults).
Env deployed_env(const std::string& db, const std::string& app, const std::string& nats,
                 const std::string& log_level) {
  // application_name only labels the service's Postgres connections for the CPU breakdown.
  return {{"DATABASE_URL", db + "?application_name=" + app},
          {"NATS_URL", nats},
          {"NATS_STREAM", "ORDERS"},
          {"LOG_LEVEL", log_level},
          {"COMMAND_TOKEN", ""},
          {"QUERY_TOKEN", ""},
          {"ADMIN_TOKEN", ""}};
}

// Runs the load's warm-up and measurement window; CPU sampled over the window.
std::map<std::string, double> measure(Load& load, CpuMeter& meter, const Options& o,
                                      double seconds) {
  load.start();
  sleep_s(o.warmup);
  meter.sample();  // learns the connections' roles before the window
  const auto from = meter.sample();
  load.measure_begin();
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  while (Clock::now() + 1s < end) {
    sleep_s(1);
    meter.sample();  // more looks at what each backend runs
  }
  std::this_thread::sleep_until(end);
  load.measure_end();
  const auto to = meter.sample();
  return CpuMeter::between(from, to);
}

// Seconds from `stopped` until every projection has applied every event in the store.
std::optional<double> drain_seconds(const std::string& db, Clock::time_point stopped) {
  pqxx::connection c(db);
  const auto deadline = Clock::now() + 60s;
  while (Clock::now() < deadline) {
    pqxx::read_transaction tx(c);
    auto row = tx.exec1(
        // Every event = the sequenced ones (global positions are dense) + the outbox: cheap at
        // any store size, where count(*) FROM events is not.
        "SELECT (SELECT coalesce(max(global_position), 0) FROM global_log) + "
        "(SELECT count(*) FROM outbox), (SELECT count(*) FROM projections), "
        "(SELECT coalesce(min(applied), 0) FROM (SELECT coalesce(sum(c.events_applied), 0) AS "
        "applied FROM projections p LEFT JOIN projection_checkpoints c ON c.projection = p.name "
        "GROUP BY p.name) x)");
    tx.commit();
    if (row[1].as<long long>() > 0 && row[2].as<long long>() >= row[0].as<long long>()) {
      return std::chrono::duration<double>(Clock::now() - stopped).count();
    }
    std::this_thread::sleep_for(5ms);  // the resolution of the drain figure, not a sync
  }
  return std::nullopt;
}

std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(ss, dir, ':');) {
    const auto p = std::filesystem::path(dir) / name;
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

std::string tail_of(const std::string& s, std::size_t n = 600) {
  return s.substr(s.size() > n ? s.size() - n : 0);
}

// Not drained within the deadline: the services' last warnings and errors, on stderr.
void report_stall(const Stack& s) {
  std::vector<std::pair<std::string, const Process*>> procs = {{"write-side", s.ws.get()}};
  for (const auto& p : s.rs) procs.emplace_back("read-side", p.get());
  for (const auto& [name, p] : procs) {
    std::istringstream in(p->log());
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"warn") != std::string::npos || line.find("\"error") != std::string::npos)
        lines.push_back(line.substr(0, 400));
    }
    std::fprintf(stderr, "  not drained: %s (%s) logged %zu warnings/errors%s\n", name.c_str(),
                 p->log_path().c_str(), lines.size(), lines.empty() ? "" : ", the last:");
    for (std::size_t i = lines.size() > 3 ? lines.size() - 3 : 0; i < lines.size(); ++i)
      std::fprintf(stderr, "    %s\n", lines[i].c_str());
  }
}

}  // namespace

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

void summarize(RunResult& r, const std::map<std::string, double>& cpu_seconds) {
  const auto& l = r.load;
  r.cmds_per_s = l.seconds > 0 ? static_cast<double>(l.ok) / l.seconds : 0;
  std::vector<double> ms(l.latency_us.begin(), l.latency_us.end());
  for (auto& x : ms) x /= 1000.0;
  r.p50_ms = percentile(ms, 0.50);
  r.p99_ms = percentile(ms, 0.99);
  r.lag_p50_ms = percentile(l.lag_ms, 0.50);
  r.lag_p99_ms = percentile(l.lag_ms, 0.99);
  if (l.ok == 0) return;
  for (const auto& [part, s] : cpu_seconds) r.cpu_us[part] = s * 1e6 / static_cast<double>(l.ok);
}

std::unique_ptr<Stack> start_stack(const std::string& db, const std::string& log_level,
                                   const std::function<void(const std::string&)>& before) {
  auto s = std::make_unique<Stack>();
  s->db = db;
  s->log_level = log_level;
  if (before) before(s->nats.url());
  s->wport = free_port();
  s->rports = {free_port(), free_port()};
  auto wenv = deployed_env(db, "write-side", s->nats.url(), log_level);
  wenv["WRITE_ADDRESS"] = "127.0.0.1";
  wenv["WRITE_PORT"] = std::to_string(s->wport);
  s->ws = start_service(testing::write_side_binary(), {"serve"}, wenv, s->wport, 120s);
  for (int port : s->rports) {
    const std::string id = "local-" + std::to_string(s->rs.size() + 1);
    auto env = deployed_env(db, "read-side-" + id, s->nats.url(), log_level);
    env["READ_ADDRESS"] = "127.0.0.1";
    env["READ_PORT"] = std::to_string(port);
    env["REPLICA_ID"] = id;
    s->rs.push_back(start_service(testing::read_side_binary(), {"serve"}, env, port, 120s));
  }
  return s;
}

RunResult drive_pipeline(Stack& s, const Options& o, const std::string& tag) {
  LoadSpec spec;
  spec.port = s.wport;
  spec.connections = o.connections;
  spec.threads = o.threads;
  spec.rate = o.rate;
  spec.tag = tag;
  spec.probe_ports = s.rports;
  Load load(spec);
  CpuMeter meter(s.db, {{"write-side", s.ws->pid()},
                        {"nats-server", nats_server_pid(s.nats.port())},
                        {"read-side 1", s.rs[0]->pid()},
                        {"read-side 2", s.rs[1]->pid()},
                        {"driver (this bench)", static_cast<int>(::getpid())}});
  const auto cpu = measure(load, meter, o, o.seconds);
  const auto stopped = load.stop();
  RunResult r;
  r.name = "pipeline, LOG_LEVEL=" + s.log_level;
  r.drain_s = drain_seconds(s.db, stopped);
  if (!r.drain_s) report_stall(s);
  r.load = load.result();
  summarize(r, cpu);
  return r;
}

RunResult run_pipeline(PgServer& pg, const Options& o, const std::string& log_level) {
  auto stack = start_stack(pg.create_database("pipeline_" + log_level), log_level, {});
  return drive_pipeline(*stack, o, "pipe-" + log_level);
}

RunResult run_write_alone(PgServer& pg, const Options& o) {
  testing::NatsServer nats;  // the write-side checks its settings; the relay is off
  const auto db = pg.create_database("pipeline_write_alone");
  const int wport = free_port();
  auto env = deployed_env(db, "write-side", nats.url(), "info");
  env["WRITE_ADDRESS"] = "127.0.0.1";
  env["WRITE_PORT"] = std::to_string(wport);
  env["RELAY_ENABLED"] = "off";
  auto ws = start_service(testing::write_side_binary(), {"serve"}, env, wport, 60s);
  LoadSpec spec;
  spec.port = wport;
  spec.connections = o.connections;
  spec.threads = o.threads;
  spec.rate = o.rate;
  spec.tag = "alone";
  Load load(spec);
  CpuMeter meter(
      db, {{"write-side", ws->pid()}, {"driver (this bench)", static_cast<int>(::getpid())}});
  const auto cpu = measure(load, meter, o, o.seconds);
  load.stop();
  RunResult r;
  r.name = "write-side alone (RELAY_ENABLED=off)";
  r.load = load.result();
  summarize(r, cpu);
  return r;
}

namespace {

// Starts emmett-orders.mjs (npm install on first use) and waits until it answers HTTP.
std::unique_ptr<Process> start_emmett(const std::string& node, const Options& o,
                                      const std::string& db, int port, std::string& why) {
  auto p = std::make_unique<Process>(
      node,
      std::vector<std::string>{o.peers_dir + "/emmett-orders.mjs", "--pg", db, "--port",
                               std::to_string(port), "--workers", "2", "--pool", "32", "--workdir",
                               o.peers_dir_work},
      Env{});
  testing::HttpClient probe("127.0.0.1", port);
  probe.set_timeout(2s);
  const bool up = testing::wait_until(
      [&] { return !p->running() || probe.get("/orders/none").status != 0; }, 300s, 100ms);
  if (!up || !p->running()) {
    why = "emmett-orders.mjs did not start: " + tail_of(p->log());
    return nullptr;
  }
  return p;
}

}  // namespace

std::optional<RunResult> run_emmett_orders(PgServer& pg, const Options& o, std::string& why) {
  const auto node = find_program("node");
  if (node.empty() || find_program("npm").empty()) {
    why = "node/npm not installed (apt-get install nodejs npm)";
    return std::nullopt;
  }
  const int port = free_port();
  const std::string db = pg.url("emmett_orders");
  auto p = start_emmett(node, o, db, port, why);
  if (!p) return std::nullopt;
  LoadSpec spec;
  spec.port = port;
  spec.connections = o.connections;
  spec.threads = o.threads;
  spec.rate = o.rate;
  spec.confirm_and_ship = false;  // its API: CreateOrder and AddItem only
  spec.items_per_order = 9;
  spec.tag = "emmett";
  Load load(spec);
  std::vector<std::pair<std::string, int>> procs = {{"node", p->pid()}};
  for (int child : child_pids(p->pid())) procs.emplace_back("node", child);
  procs.emplace_back("driver (this bench)", static_cast<int>(::getpid()));
  CpuMeter meter(db, procs);
  const auto cpu = measure(load, meter, o, o.peer_seconds);
  load.stop();
  RunResult r;
  r.name = "peer: Emmett orders service (inline projection)";
  r.load = load.result();
  r.note = "CreateOrder + 9 AddItem per order (its API has no confirm/ship); read model inline";
  summarize(r, cpu);
  p->signal(SIGTERM);
  p->wait(10s);
  return r;
}

std::vector<std::string> run_append_peers(PgServer& pg, const Options& o) {
  std::vector<std::string> out;
  const auto node = find_program("node");
  if (node.empty() || find_program("npm").empty()) {
    out.emplace_back("peer skipped: node/npm not installed (apt-get install nodejs npm)");
    return out;
  }
  const auto secs = std::to_string(static_cast<int>(o.peer_seconds));
  {
    Process mdb("/bin/bash", {o.peers_dir + "/message-db-bench.sh"},
                {{"PGHOST", "127.0.0.1"},
                 {"PGPORT", std::to_string(pg.port())},
                 {"PGUSER", "postgres"},
                 {"CLIENTS", std::to_string(o.connections)},
                 {"DURATION", secs},
                 {"WORKDIR", o.peers_dir_work + "/mdb"}});
    const auto rc = mdb.wait(std::chrono::seconds(static_cast<int>(o.peer_seconds) * 4 + 300));
    std::istringstream in(mdb.log());
    bool any = false;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("mdb_", 0) == 0) {
        out.push_back("Message DB write_message (pgbench): " +
                      line.substr(0, line.find(" | pgbench")));
        any = true;
      }
    }
    if (!any)
      out.push_back("peer skipped: Message DB (exit " + std::to_string(rc.value_or(-1)) +
                    "): " + tail_of(mdb.log(), 300));
  }
  Process emmett(node,
                 {o.peers_dir + "/emmett-bench.mjs", "--pg", pg.url("emmett_appends"), "--workers",
                  std::to_string(o.connections), "--seconds", secs, "--read-seconds", "1", "--pool",
                  "default", "--workdir", o.peers_dir_work},
                 {});
  const auto rc = emmett.wait(std::chrono::seconds(static_cast<int>(o.peer_seconds) + 300));
  std::istringstream in(emmett.log());
  bool any = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find("emmett appendToStream") != std::string::npos) {
      out.push_back("Emmett appendToStream: " + line);
      any = true;
    }
  }
  if (!any)
    out.push_back("peer skipped: Emmett appends (exit " + std::to_string(rc.value_or(-1)) +
                  "): " + tail_of(emmett.log(), 300));
  return out;
}

}  // namespace orders::bench::pipeline
