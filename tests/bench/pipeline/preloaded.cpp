#include "tests/bench/pipeline/preloaded.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <regex>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/pg/migrations.hpp"
#include "tests/bench/preload/stream_prime.hpp"

namespace orders::bench::pipeline {

using namespace std::chrono_literals;
using testing::PgServer;
using testing::Process;

namespace {

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// An exclusive flock on Options::lock_file for the measured phases (the machine is shared with
// other timing-sensitive runs); no-op without one.
class HeavyLock {
 public:
  explicit HeavyLock(const std::string& path) {
    if (path.empty()) return;
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT, 0666);
    if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) throw std::runtime_error("cannot lock " + path);
  }
  ~HeavyLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  HeavyLock(const HeavyLock&) = delete;
  HeavyLock& operator=(const HeavyLock&) = delete;

 private:
  int fd_ = -1;
};

struct CliRun {
  int rc = -1;
  std::string log;
  double peak_rss_mb = 0;
};

// A service binary's CLI command under GNU time (its peak RSS), to completion.
CliRun run_cli(const std::string& binary, const std::vector<std::string>& args,
               const std::string& db, std::chrono::seconds deadline) {
  std::vector<std::string> argv = {"-f", "peak_rss_kb=%M", binary};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p("/usr/bin/time", argv, {{"DATABASE_URL", db}, {"LOG_LEVEL", "warn"}});
  CliRun r;
  r.rc = p.wait(deadline).value_or(-1);
  r.log = p.log();
  std::smatch m;
  if (std::regex_search(r.log, m, std::regex("peak_rss_kb=([0-9]+)")))
    r.peak_rss_mb = std::stod(m[1]) / 1024.0;
  return r;
}

double number(std::string s) {
  std::erase(s, ',');
  return std::stod(s);
}

RebuildFigures rebuild(const std::string& db) {
  const auto c = run_cli(testing::read_side_binary(), {"rebuild-projection", "--all"}, db, 3600s);
  RebuildFigures f;
  f.peak_rss_mb = c.peak_rss_mb;
  std::smatch m;
  const std::regex line(
      "rebuild done: ([0-9,]+) events, [0-9,]+ orders in ([0-9.]+) s \\(([0-9,]+) events/s;[^)]*"
      "projector held ([0-9.]+) s\\)");
  if (c.rc == 0 && std::regex_search(c.log, m, line)) {
    f.ok = true;
    f.line = m[0];
    f.seconds = std::stod(m[2]);
    f.events_per_s = number(m[3]);
    f.held_s = std::stod(m[4]);
  } else {
    f.line = "exit " + std::to_string(c.rc) + ": " +
             c.log.substr(c.log.size() > 600 ? c.log.size() - 600 : 0);
  }
  return f;
}

ArchiveFigures archive(const std::string& db, std::int64_t orders) {
  const auto batches = std::max<std::int64_t>(1, (orders + 499) / 500);
  const auto c = run_cli(testing::write_side_binary(),
                         {"archive", "--older-than", "30d", "--json", "--batch-orders", "500",
                          "--max-batches", std::to_string(batches)},
                         db, 3600s);
  ArchiveFigures a;
  const auto at = c.log.find("{\"");
  if (c.rc != 0 || at == std::string::npos) {
    a.error = "exit " + std::to_string(c.rc) + ": " + c.log.substr(0, 600);
    return a;
  }
  const auto j = nlohmann::json::parse(c.log.substr(at, c.log.find('\n', at) - at));
  a.ok = true;
  a.orders = j.at("orders");
  a.events = j.at("events");
  a.row_bytes = j.at("row_bytes");
  a.seconds = j.at("seconds");
  a.events_per_s = a.seconds > 0 ? static_cast<double>(a.events) / a.seconds : 0;
  a.hot_before = j.at("hot_bytes_before");
  a.hot_after = j.at("hot_bytes_after");
  return a;
}

GetFigures figures(std::vector<double> ms, int errors) {
  GetFigures g;
  g.requests = static_cast<int>(ms.size()) + errors;
  g.errors = errors;
  g.p50_ms = percentile(ms, 0.50);
  g.p99_ms = percentile(ms, 0.99);
  return g;
}

// Sequential GETs on one keep-alive connection per service, on a quiet stack: the three paths
// for random old (preloaded) orders and random orders the load created.
std::map<std::string, GetFigures> sample_gets(const Stack& s, const Options& o,
                                              std::int64_t old_orders,
                                              std::int64_t preload_last_position) {
  std::vector<std::string> fresh;
  {
    pqxx::connection c(s.db);
    pqxx::read_transaction tx(c);
    for (const auto& row : tx.exec_params(
             "SELECT stream_id FROM events WHERE position > $1 AND version = 1 LIMIT 5000",
             preload_last_position))
      fresh.push_back(row[0].as<std::string>());
  }
  testing::HttpClient ws("127.0.0.1", s.wport), r1("127.0.0.1", s.rports[0]),
      r2("127.0.0.1", s.rports[1]);
  std::mt19937_64 rng(42);
  std::map<std::string, GetFigures> out;
  for (const bool old : {true, false}) {
    if (old ? old_orders == 0 : fresh.empty()) continue;
    std::vector<std::vector<double>> ms(kGetPaths.size());
    std::vector<int> errors(kGetPaths.size(), 0);
    for (int i = 0; i < o.get_requests; ++i) {
      const std::string id =
          old ? "old-" + std::to_string(1 + static_cast<std::int64_t>(rng() % old_orders))
              : fresh[rng() % fresh.size()];
      const std::string targets[] = {"/orders/" + id, "/orders/" + id + "/events",
                                     "/orders/" + id + "/state"};
      for (std::size_t k = 0; k < kGetPaths.size(); ++k) {
        auto& client = k > 0 ? ws : (i % 2 == 0 ? r1 : r2);
        const auto t0 = Clock::now();
        const auto res = client.get(targets[k]);
        const double took = since(t0) * 1000;
        if (res.status == 200)
          ms[k].push_back(took);
        else
          ++errors[k];
      }
    }
    for (std::size_t k = 0; k < kGetPaths.size(); ++k)
      out[kGetPaths[k] + (old ? " old" : " new")] = figures(ms[k], errors[k]);
  }
  return out;
}

std::string database_name(const std::string& url) {
  return url.substr(url.rfind('/') + 1);
}

std::int64_t scalar(const std::string& db, const char* sql) {
  pqxx::connection c(db);
  pqxx::read_transaction tx(c);
  return tx.exec1(sql)[0].as<std::int64_t>();
}

}  // namespace

PreparedStore::PreparedStore() = default;
PreparedStore::~PreparedStore() = default;
PreparedStore::PreparedStore(PreparedStore&&) noexcept = default;

PreparedStore prepare_preloaded(std::int64_t events) {
  PreparedStore p;
  p.pg = std::make_unique<PgServer>();
  p.db = p.pg->create_database("preload_" + std::to_string(events));
  p.orders = events / 10;
  auto& r = p.result;
  {
    pqxx::connection c(p.db);
    pg::apply_migrations(c);
    PreloadSpec spec;
    spec.orders = p.orders;
    const auto t0 = Clock::now();
    const auto res = preload_events(c, spec, [&](std::int64_t done) {
      std::fprintf(stderr, "\r  preload: %lld / %lld events, %.0f s ", static_cast<long long>(done),
                   static_cast<long long>(p.orders * 10), since(t0));
    });
    std::fprintf(stderr, "\n");
    r.stored = res.events;
    r.preload_s = res.seconds;
    r.size = store_size(c);
  }
  p.preload_last_position = scalar(p.db, "SELECT coalesce(max(position), 0) FROM events");
  if (events > 0) {  // an empty store is left as a fresh install has it (nothing analyzed empty)
    std::fprintf(stderr, "  rebuild-projection --all (the preload's read model)...\n");
    r.initial = rebuild(p.db);
    if (!r.initial.ok) throw std::runtime_error("initial rebuild failed: " + r.initial.line);
  } else {
    r.initial.line = "skipped (empty store)";
  }
  const auto t0 = Clock::now();
  p.stack = start_stack(p.db, "info", [&](const std::string& nats_url) {
    pqxx::connection c(p.db);
    prime_stream(nats_url, "ORDERS", c);
  });
  std::fprintf(stderr, "  stream primed at %lld and stack up in %.1f s (%s)\n",
               static_cast<long long>(p.preload_last_position), since(t0), p.db.c_str());
  return p;
}

void drive_preloaded(PreparedStore& p, const Options& o, int round) {
  HeavyLock lock(o.lock_file);
  std::fprintf(stderr, "  round %d: pipeline load on %lld stored events...\n", round + 1,
               static_cast<long long>(p.result.stored));
  auto run = drive_pipeline(
      *p.stack, o, "pipe-n" + std::to_string(p.result.stored) + "-r" + std::to_string(round));
  run.name = "round " + std::to_string(round + 1);
  p.result.rounds.push_back(std::move(run));
}

void finish_preloaded(PreparedStore& p, const Options& o) {
  auto& r = p.result;
  {
    HeavyLock lock(o.lock_file);
    std::fprintf(stderr, "  GET latencies on %lld stored events...\n",
                 static_cast<long long>(r.stored));
    r.gets = sample_gets(*p.stack, o, p.orders, p.preload_last_position);
  }
  if (o.growth) {
    HeavyLock lock(o.lock_file);
    std::fprintf(stderr, "  rebuild-projection --all on the live stack...\n");
    r.live_rebuild = rebuild(p.db);
    if (p.orders > 0) {
      std::fprintf(stderr, "  archive...\n");
      r.archive = archive(
          p.db, std::max<std::int64_t>(1, static_cast<std::int64_t>(
                                              o.archive_fraction * static_cast<double>(p.orders))));
    }
  }
  p.stack.reset();
  p.pg.reset();  // stops the cluster and removes its folder
}

const RunResult& PreloadRun::best() const {
  const RunResult* b = &rounds.front();
  for (const auto& x : rounds)
    if (x.cmds_per_s > b->cmds_per_s) b = &x;
  return *b;
}

std::pair<StoreSize, StoreSize> payload_sample(PgServer& pg, std::int64_t events, int pad) {
  std::pair<StoreSize, StoreSize> out;
  for (const bool lz4 : {true, false}) {
    const auto db = pg.create_database(lz4 ? "payload_lz4" : "payload_pglz");
    {
      pqxx::connection c(db);
      pg::apply_migrations(c);
      if (!lz4) {
        pqxx::work tx(c);
        tx.exec(
            "ALTER TABLE events ALTER COLUMN data SET COMPRESSION pglz, "
            "ALTER COLUMN metadata SET COMPRESSION pglz");
        tx.commit();
      }
      PreloadSpec spec;
      spec.orders = std::max<std::int64_t>(1, events / 10);
      spec.prefix = "big";
      spec.metadata_pad_bytes = pad;
      spec.chunk_orders = 1000;
      preload_events(c, spec);
      (lz4 ? out.first : out.second) = store_size(c);
    }
    pg.psql(pg.url(), "DROP DATABASE " + database_name(db) + " WITH (FORCE)");
  }
  return out;
}

}  // namespace orders::bench::pipeline
