// Read-side benchmark. Prints:
//  1. projector events/s: N events bulk-loaded into the event store and published to JetStream
//     before the read-side starts; time from its first applied batch to all applied.
//  2. end-to-end lag at steady command rates (open loop): each command's 2xx -> the read side
//     answering GET /orders/{id}?min_version=v (woken by the apply), sampled on 1 command in 20,
//     after a warm-up at the same rate (--warmup, default 2 s; reported on its own line).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "common/codec/bus_envelope.hpp"
#include "common/codec/event_codec.hpp"
#include "common/nats/publisher.hpp"
#include "common/nats/stream_admin.hpp"
#include "tests/support/http_wire.hpp"
#include "tests/support/read_side_support.hpp"
#include "tests/support/services.hpp"

using namespace orders;
using namespace orders::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
  return v[i];
}

double process_cpu_seconds(int pid) {
  return orders::testing::process_cpu_seconds(std::to_string(pid));
}

// The nats-server process listening on `port` (its command line holds "-p" "<port>"), or 0.
int nats_server_pid(int port) {
  const std::string want = std::string("-p") + '\0' + std::to_string(port) + '\0';
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find("nats-server") != std::string::npos && cmd.find(want) != std::string::npos) {
      return std::stoi(name);
    }
  }
  return 0;
}

std::int64_t applied(pqxx::connection& c) {
  pqxx::read_transaction tx(c);
  return tx
      .exec1(
          "SELECT coalesce(sum(events_applied), 0)::bigint FROM projection_checkpoints "
          "WHERE projection = 'orders'")[0]
      .as<std::int64_t>();
}

void bulk_load(const std::string& db, const std::string& nats_url, int events) {
  const int orders = events / 5;
  pqxx::connection c(db);
  const std::vector<domain::Event> seed = {
      domain::OrderCreated{"", "c"}, domain::OrderItemAdded{"product-1", 2, 1000},
      domain::OrderItemAdded{"product-2", 1, 1500}, domain::OrderConfirmed{},
      domain::OrderShipped{"TRK123456"}};
  // Version-major order: all creates, then all first items, ... (many orders per batch).
  const int chunk = 5000;
  for (int step = 0; step < 5; ++step) {
    for (int start = 0; start < orders; start += chunk) {
      auto rows = nlohmann::json::array();
      for (int o = start; o < std::min(orders, start + chunk); ++o) {
        domain::Event e = seed[static_cast<std::size_t>(step)];
        const std::string id = "bench-" + std::to_string(o);
        if (auto* created = std::get_if<domain::OrderCreated>(&e)) {
          created->order_id = id;
          created->customer_id = "cust-" + std::to_string(o % 1000);
        }
        const std::string type(domain::event_type(e));
        rows.push_back({{"stream_id", id},
                        {"version", step + 1},
                        {"type", type},
                        {"schema_version", codec::current_schema_version(type)},
                        {"data", codec::encode_event_data(e)}});
      }
      pqxx::work tx(c);
      tx.exec_params(
          "WITH ev AS (INSERT INTO events (event_id, stream_id, version, type, schema_version, "
          "data) "
          "SELECT gen_random_uuid(), r.stream_id, r.version, r.type, r.schema_version, r.data "
          "FROM jsonb_to_recordset($1::jsonb) AS r(stream_id text, version bigint, type text, "
          "schema_version int, data jsonb) RETURNING position) "
          "INSERT INTO global_log (global_position, position) SELECT "
          "(SELECT coalesce(max(global_position), 0) FROM global_log) + row_number() OVER (ORDER "
          "BY position), "
          "position FROM ev",
          rows.dump());
      tx.commit();
    }
  }
  auto nc = nats::Connection::connect(nats_url, "bench-loader");
  nats::Publisher js(nc);
  nats::StreamSpec spec;
  spec.name = "ORDERS";
  nats::StreamAdmin(nc).ensure_stream(spec);
  pqxx::read_transaction tx(c);
  std::int64_t published = 0;
  for (std::int64_t from = 0;; from += 20000) {
    auto r = tx.exec_params(
        "SELECT e.event_id::text, e.stream_id, e.version, e.position, g.global_position, e.type, "
        "e.schema_version, (extract(epoch from e.recorded_at) * 1000000)::bigint, e.data::text "
        "FROM global_log g JOIN events e ON e.position = g.position "
        "WHERE g.global_position > $1 ORDER BY g.global_position LIMIT 20000",
        from);
    if (r.empty()) break;
    for (const auto& row : r) {
      codec::RecordedEvent e;
      e.event_id = row[0].as<std::string>();
      e.stream_id = row[1].as<std::string>();
      e.version = row[2].as<std::int64_t>();
      e.position = row[3].as<std::int64_t>();
      e.global_position = row[4].as<std::int64_t>();
      e.type = row[5].as<std::string>();
      e.schema_version = row[6].as<int>();
      e.recorded_at_us = row[7].as<std::int64_t>();
      e.data = nlohmann::json::parse(row[8].as<std::string>());
      e.metadata = nlohmann::json::object();
      nats::OutMessage m;
      m.subject = codec::subject_for("ORDERS", e.stream_id);
      m.data = codec::wire_json(e);
      m.msg_id = e.event_id;
      js.publish_async(m);
      ++published;
    }
    for (const auto& res : js.wait_async(30s)) {
      if (!res.ok) throw std::runtime_error("publish failed: " + res.error);
    }
  }
  std::printf("loaded %lld events (%d orders) into the store and the stream\n",
              static_cast<long long>(published), orders);
}

// Postgres' own time per statement (log_min_duration_statement = 0 on the bench database), summed
// by statement name from the server log: where the apply transactions spend their time.
void print_statement_stats(const std::string& log_path, std::streamoff from) {
  std::ifstream in(log_path);
  in.seekg(from);
  std::map<std::string, std::pair<double, std::int64_t>> by_name;
  double total = 0;
  for (std::string line; std::getline(in, line);) {
    auto d = line.find("duration: ");
    if (d == std::string::npos) continue;
    const double ms = std::strtod(line.c_str() + d + 10, nullptr);
    std::string name = "(simple) ";
    auto ex = line.find("execute ", d);
    if (ex != std::string::npos) {
      auto colon = line.find(':', ex);
      name = line.substr(ex + 8, colon == std::string::npos ? std::string::npos : colon - ex - 8);
    } else if (auto st = line.find("statement: ", d); st != std::string::npos) {
      name += line.substr(st + 11, 40);
    } else {
      continue;  // parse / bind lines
    }
    auto& [sum, n] = by_name[name];
    sum += ms;
    ++n;
    total += ms;
  }
  std::printf("Postgres time per statement (summed over all connections, %.0f ms in all):\n",
              total);
  for (const auto& [name, v] : by_name) {
    std::printf("  %-48s %9.1f ms %7lld calls %7.3f ms/call\n", name.c_str(), v.first,
                static_cast<long long>(v.second), v.first / static_cast<double>(v.second));
  }
}

void projector_throughput(int events, int batch, bool statement_stats) {
  NatsServer nats;
  const auto db = shared_pg().create_database("rs_bench_projector");
  {
    // Schema first (read-side migrate), then the load.
    Process migrate(read_side_binary(), {"migrate"}, {{"DATABASE_URL", db}});
    if (migrate.wait(60s).value_or(1) != 0)
      throw std::runtime_error("migrate failed: " + migrate.log());
  }
  const auto load_started = Clock::now();
  bulk_load(db, nats.url(), events);
  std::printf("load took %.1f s\n",
              std::chrono::duration<double>(Clock::now() - load_started).count());
  const int port = free_port();
  pqxx::connection c(db);
  std::string pg_log;
  std::streamoff pg_log_from = 0;
  if (statement_stats) {
    pqxx::nontransaction n(c);
    n.exec("ALTER DATABASE " + std::string(c.dbname()) + " SET log_min_duration_statement = 0");
    // The server log sits beside the data directory (tests/support PgServer).
    const auto data = n.exec1("SELECT current_setting('data_directory')")[0].as<std::string>();
    pg_log = data.substr(0, data.rfind('/')) + "/postgres.log";
    std::ifstream in(pg_log, std::ios::ate);
    pg_log_from = in.tellg();
  }
  const int nats_pid = nats_server_pid(nats.port());
  const double nats_cpu_before = nats_pid != 0 ? process_cpu_seconds(nats_pid) : 0;
  // WAL written while the read-side runs (cluster-wide: nothing else writes meanwhile). Full-page
  // images (the first change of a page after a checkpoint) make the same work cost more.
  auto wal_stats = [&] {
    pqxx::nontransaction n(c);
    auto r = n.exec1("SELECT wal_bytes::bigint, wal_fpi FROM pg_stat_wal");
    return std::make_pair(r[0].as<std::int64_t>(), r[1].as<std::int64_t>());
  };
  const auto wal_before = wal_stats();
  auto rs = start_service(read_side_binary(), {"serve"},
                          {{"DATABASE_URL", db},
                           {"NATS_URL", nats.url()},
                           {"READ_PORT", std::to_string(port)},
                           {"PROJECTOR_BATCH", std::to_string(batch)},
                           {"LOG_LEVEL", "warn"}},
                          port, 60s);
  const auto total = static_cast<std::int64_t>(events / 5 * 5);
  Clock::time_point first{};
  std::int64_t at_first = 0;
  while (true) {
    const auto n = applied(c);
    if (n > 0 && first == Clock::time_point{}) {
      first = Clock::now();
      at_first = n;
    }
    if (n >= total) break;
    std::this_thread::sleep_for(20ms);  // sampling interval of the measurement, not a sync
  }
  const double secs = std::chrono::duration<double>(Clock::now() - first).count();
  // CPU of the Postgres backends serving the read-side (its connections are still open): with
  // the read-side's own CPU, what one applied event costs, whatever else runs on the machine.
  double pg_cpu = 0;
  {
    pqxx::read_transaction tx(c);
    for (const auto& row :
         tx.exec("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                 "AND pid <> pg_backend_pid()")) {
      pg_cpu += process_cpu_seconds(row[0].as<int>());
    }
  }
  const double rs_cpu = process_cpu_seconds(rs->pid());
  const double nats_cpu = nats_pid != 0 ? process_cpu_seconds(nats_pid) - nats_cpu_before : 0;
  std::printf(
      "| projector (batch %d) | %lld events | %.2f s | %.0f events/s | read-side process CPU %.2f "
      "s |"
      " its Postgres backends CPU %.2f s | %.1f us CPU per event |\n",
      batch, static_cast<long long>(total - at_first), secs,
      static_cast<double>(total - at_first) / secs, rs_cpu, pg_cpu,
      (rs_cpu + pg_cpu) * 1e6 / static_cast<double>(total));
  std::printf("  nats-server CPU while the read-side ran: %.2f s (%.1f us per event)\n", nats_cpu,
              nats_cpu * 1e6 / static_cast<double>(total));
  const auto wal_after = wal_stats();
  std::printf("  WAL written meanwhile: %.0f MB, %lld full-page images\n",
              static_cast<double>(wal_after.first - wal_before.first) / 1e6,
              static_cast<long long>(wal_after.second - wal_before.second));
  auto check = read_side::check_read_model(db);
  std::printf("read model check after the run: diverged=%lld\n",
              static_cast<long long>(check.diverged));
  if (statement_stats) {
    print_statement_stats(pg_log, pg_log_from);
    pqxx::read_transaction tx(c);
    for (const auto& row :
         tx.exec("SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                 "WHERE relname IN ('orders', 'customer_orders') ORDER BY relname")) {
      std::printf("  %-16s inserts %s, updates %s, of which HOT %s\n", row[0].c_str(),
                  row[1].c_str(), row[2].c_str(), row[3].c_str());
    }
  }
}

// The read side alone: an event appended to the store and published (as the relay would), then
// GET /orders/{id}?min_version=1 until visible; one at a time, so this is the projector's own
// latency (fetch + apply + commit + wake-up), without the write-side or relay.
void read_side_only_lag(int samples) {
  NatsServer nats;
  const auto db = shared_pg().create_database("rs_bench_direct");
  const int port = free_port();
  read_side::EventFeeder feeder(db, nats.url());  // creates the stream
  auto rs = start_service(read_side_binary(), {"serve"},
                          {{"DATABASE_URL", db},
                           {"NATS_URL", nats.url()},
                           {"READ_PORT", std::to_string(port)},
                           {"LOG_LEVEL", "warn"}},
                          port, 60s);
  HttpClient q("127.0.0.1", port);
  std::vector<double> lags;
  for (int i = 0; i < samples; ++i) {
    const std::string id = "direct-" + std::to_string(i);
    feeder.append(id, domain::OrderCreated{id, "c"});
    const auto published = Clock::now();
    auto r = q.get("/orders/" + id + "?min_version=1&wait_ms=5000");
    if (r.status == 200)
      lags.push_back(std::chrono::duration<double, std::milli>(Clock::now() - published).count());
  }
  std::printf(
      "| read side only (publish ack -> visible), %zu samples | p50 %.2f ms | p99 %.2f ms |\n",
      lags.size(), pct(lags, 50), pct(lags, 99));
  std::fflush(stdout);
}

// Summarizes the Prometheus histograms named `family` in a /metrics text: per label set, the count,
// the mean and the bucket bounds holding the median and the 99th percentile ("<= x ms").
std::string histogram_summary(const std::string& text, const std::string& family,
                              double scale = 1000, const char* unit = "ms") {
  struct H {
    std::vector<std::pair<double, double>> buckets;  // (le, cumulative count)
    double sum = 0, count = 0;
  };
  std::map<std::string, H> by_labels;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family + "_", 0) != 0) continue;
    auto brace = line.find('{'), close = line.find('}');
    if (brace == std::string::npos || close == std::string::npos) {  // no labels
      brace = close = line.find(' ');
      if (brace == std::string::npos) continue;
      --close;
    }
    const std::string suffix = line.substr(family.size() + 1, brace - family.size() - 1);
    std::string labels = close > brace ? line.substr(brace + 1, close - brace - 1) : std::string();
    const double value = std::stod(line.substr(close + 2));
    if (suffix == "bucket") {
      const auto le = labels.find("le=\"");
      const std::string bound = labels.substr(le + 4, labels.find('"', le + 4) - le - 4);
      labels = labels.substr(0, le == 0 ? 0 : le - 1);
      by_labels[labels].buckets.emplace_back(bound == "+Inf" ? 1e9 : std::stod(bound), value);
    } else if (suffix == "sum") {
      by_labels[labels].sum = value;
    } else if (suffix == "count") {
      by_labels[labels].count = value;
    }
  }
  std::string out;
  char buf[256];
  for (const auto& [labels, h] : by_labels) {
    auto bound_at = [&](double q) {
      for (const auto& [le, c] : h.buckets) {
        if (c >= q * h.count) return le * scale;
      }
      return 0.0;
    };
    std::snprintf(buf, sizeof buf, "    %s{%s}: n %.0f, mean %.2f %s, p50 <= %g %s, p99 <= %g %s\n",
                  family.c_str(), labels.c_str(), h.count,
                  h.count > 0 ? h.sum / h.count * scale : 0.0, unit, bound_at(0.5), unit,
                  bound_at(0.99), unit);
    out += buf;
  }
  return out;
}

struct Probe {
  std::string id;
  std::int64_t version;
  Clock::time_point acked;
};

// The lag run's load driver, on ONE epoll loop (threads per client would compete with the
// services for the 2 cores, and a probe handed to another thread would wait for it to be
// scheduled). Commands, open loop: slot t (one keep-alive connection to the write-side) sends its
// command k at start + interval * (t / slots + k): k % 3 == 0 creates order "lag-R-t-(k/3)", the
// next two add an item to it; a slot whose previous command is still unanswered sends the next
// one as soon as that answer is in. Probes: every 20th successful command of a slot (staggered
// across slots) is, right when its 2xx arrives, followed by GET /orders/{id}?min_version=<its
// version> on a free connection to the read-side (long poll, woken by the apply); lag = that
// answer's arrival - the 2xx's arrival.
class OpenLoopDriver {
 public:
  // Samples of commands answered before `measure_from` (the warm-up) are kept apart.
  OpenLoopDriver(int write_port, int read_port, int rate, int slots, int probe_conns,
                 Clock::time_point start, std::chrono::nanoseconds interval,
                 Clock::time_point measure_from)
      : write_port_(write_port),
        read_port_(read_port),
        rate_(rate),
        slots_(static_cast<std::size_t>(slots)),
        ep_(::epoll_create1(0)),
        interval_(interval),
        measure_from_(measure_from) {
    if (ep_ < 0) throw std::runtime_error("epoll_create1 failed");
    conns_.resize(slots_ + static_cast<std::size_t>(probe_conns));
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      if (i < slots_) {
        conns_[i].due =
            start + std::chrono::nanoseconds(interval.count() * static_cast<long long>(i) / slots);
      } else {
        free_probes_.push_back(i);
      }
      open(i);
    }
  }
  ~OpenLoopDriver() {
    for (auto& c : conns_)
      if (c.fd >= 0) ::close(c.fd);
    ::close(ep_);
  }
  OpenLoopDriver(const OpenLoopDriver&) = delete;
  OpenLoopDriver& operator=(const OpenLoopDriver&) = delete;

  // Sends commands while `sending`; then waits (up to 15 s) for the probes still out.
  void run(const std::atomic<bool>& sending) {
    std::vector<epoll_event> events(conns_.size());
    const auto probes_out = [&] {
      return !pending_.empty() || free_probes_.size() < conns_.size() - slots_;
    };
    std::optional<Clock::time_point> drain_deadline;
    while (true) {
      const auto now = Clock::now();
      const bool send = sending.load(std::memory_order_relaxed);
      if (!send) {
        if (!drain_deadline) drain_deadline = now + 15s;
        if (!probes_out() || now >= *drain_deadline) break;
      }
      auto wake = now + 50ms;
      for (std::size_t t = 0; send && t < slots_; ++t) {
        auto& c = conns_[t];
        if (c.busy) continue;
        if (c.due <= now) {
          send_command(t);
        } else {
          wake = std::min(wake, c.due);
        }
      }
      const auto wait =
          std::chrono::duration_cast<std::chrono::microseconds>(wake - Clock::now()).count();
      const int timeout_ms = wait <= 0 ? 0 : static_cast<int>((wait + 999) / 1000);
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeout_ms);
      for (int i = 0; i < n; ++i) {
        const auto& ev = events[static_cast<std::size_t>(i)];
        const std::size_t c = ev.data.u32;
        if (ev.events & (EPOLLERR | EPOLLHUP)) {
          fail(c);
          continue;
        }
        if (ev.events & EPOLLOUT) flush(c);
        if (ev.events & EPOLLIN) receive(c);
      }
    }
  }

  std::int64_t sent() const { return sent_; }
  std::int64_t ok() const { return ok_.load(); }  // read while running too
  std::int64_t failed() const { return failed_; }
  std::int64_t probes_failed() const { return probes_failed_; }
  std::size_t max_probes_queued() const { return max_pending_; }
  const std::vector<double>& latencies_ms() const { return latencies_ms_; }
  const std::vector<double>& lags_ms() const { return lags_ms_; }
  const std::vector<double>& warmup_latencies_ms() const { return warmup_latencies_ms_; }
  const std::vector<double>& warmup_lags_ms() const { return warmup_lags_ms_; }

 private:
  struct Conn {
    int fd = -1;
    bool busy = false;
    // command slots
    long long k = 0;  // the command being sent / answered
    Clock::time_point due, t0;
    std::string id;
    // probe connections
    Probe probe;
    std::string out, in;
    std::size_t written = 0;
  };

  bool is_probe(std::size_t c) const { return c >= slots_; }

  void watch(std::size_t c, std::uint32_t what, int op) {
    epoll_event ev{};
    ev.events = what;
    ev.data.u32 = static_cast<std::uint32_t>(c);
    ::epoll_ctl(ep_, op, conns_[c].fd, &ev);
  }

  void open(std::size_t i) {
    auto& c = conns_[i];
    c.fd = connect_nonblocking(is_probe(i) ? read_port_ : write_port_);
    watch(i, EPOLLIN, EPOLL_CTL_ADD);
    c.in.clear();
  }

  void start_request(std::size_t i, const std::string& head_and_body) {
    auto& c = conns_[i];
    c.out = head_and_body;
    c.written = 0;
    c.busy = true;
    flush(i);
  }

  void send_command(std::size_t t) {
    auto& c = conns_[t];
    const long long k = c.k;
    c.id = "lag-" + std::to_string(rate_) + "-" + std::to_string(t) + "-" + std::to_string(k / 3);
    std::string target, body;
    if (k % 3 == 0) {
      target = "/orders";
      body = nlohmann::json{{"order_id", c.id}, {"customer_id", "c" + std::to_string(t)}}.dump();
    } else {
      target = "/orders/" + c.id + "/items";
      body =
          nlohmann::json{
              {"product_id", "p" + std::to_string(k % 3)}, {"quantity", 1}, {"price", "1.00"}}
              .dump();
    }
    c.t0 = Clock::now();
    ++sent_;
    start_request(t, "POST " + target +
                         " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         "Content-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  void dispatch_probes() {
    while (!pending_.empty() && !free_probes_.empty()) {
      const std::size_t i = free_probes_.back();
      free_probes_.pop_back();
      conns_[i].probe = std::move(pending_.front());
      pending_.pop_front();
      const auto& p = conns_[i].probe;
      start_request(i, "GET /orders/" + p.id + "?min_version=" + std::to_string(p.version) +
                           "&wait_ms=10000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    }
    max_pending_ = std::max(max_pending_, pending_.size());
  }

  void flush(std::size_t i) {
    auto& c = conns_[i];
    if (!c.busy) return;
    while (c.written < c.out.size()) {
      const ssize_t n =
          ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
      if (n > 0) {
        c.written += static_cast<std::size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS ||
                           errno == ENOTCONN)) {
        watch(i, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
        return;
      } else {
        fail(i);
        return;
      }
    }
    watch(i, EPOLLIN, EPOLL_CTL_MOD);
  }

  void receive(std::size_t i) {
    auto& c = conns_[i];
    if (!receive_available(c.fd, c.in)) {
      fail(i);
      return;
    }
    auto r = take_response(c.in);
    if (!r) return;
    const auto arrived = Clock::now();
    const int status = r->status;
    const std::string& body = r->body;
    if (!c.busy) return;  // an answer nobody asked for
    if (is_probe(i)) {
      if (status == 200) {
        const double lag =
            std::chrono::duration<double, std::milli>(arrived - c.probe.acked).count();
        (c.probe.acked < measure_from_ ? warmup_lags_ms_ : lags_ms_).push_back(lag);
      } else {
        ++probes_failed_;
      }
      probe_done(i);
      return;
    }
    if (status == 200 || status == 201) {
      ++ok_;
      (c.t0 < measure_from_ ? warmup_latencies_ms_ : latencies_ms_)
          .push_back(std::chrono::duration<double, std::milli>(arrived - c.t0).count());
      // Slot i probes commands k with (k + i) % 20 == 0: the probes are spread evenly in time.
      // (With k % 20 == 0 every slot probed the same round of commands: 50+ probes within 25 ms
      // every 500 ms, and the sampled commands were exactly those slowed down by that burst.)
      if ((c.k + static_cast<long long>(i)) % 20 == 0) {
        try {
          pending_.push_back(
              Probe{c.id, nlohmann::json::parse(body).at("version").get<std::int64_t>(), arrived});
        } catch (const std::exception&) {
          ++probes_failed_;
        }
        dispatch_probes();
      }
    } else {
      ++failed_;
    }
    command_done(i);
  }

  void command_done(std::size_t t) {
    auto& c = conns_[t];
    c.busy = false;
    ++c.k;
    c.due += interval_;
  }

  void probe_done(std::size_t i) {
    conns_[i].busy = false;
    free_probes_.push_back(i);
    dispatch_probes();
  }

  // A broken connection: the request failed; reconnect (a command slot goes on with its next).
  void fail(std::size_t i) {
    auto& c = conns_[i];
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    const bool was_busy = c.busy;
    open(i);
    if (!was_busy) return;
    if (is_probe(i)) {
      ++probes_failed_;
      probe_done(i);
    } else {
      ++failed_;
      command_done(i);
    }
  }

  int write_port_, read_port_, rate_;
  std::size_t slots_;
  int ep_;
  std::chrono::nanoseconds interval_;
  std::vector<Conn> conns_;  // [0, slots_) command slots, then the probe connections
  std::vector<std::size_t> free_probes_;
  std::deque<Probe> pending_;  // probes waiting for a free connection
  std::size_t max_pending_ = 0;
  std::int64_t sent_ = 0, failed_ = 0, probes_failed_ = 0;
  std::atomic<std::int64_t> ok_{0};
  std::vector<double> latencies_ms_, lags_ms_, warmup_latencies_ms_, warmup_lags_ms_;
  Clock::time_point measure_from_;
};

// CPU seconds used so far by each part of the lag run: what a command costs end to end.
struct StackCpu {
  double ws = 0, rs = 0, nats = 0, pg = 0, pg_ws = 0, pg_rs = 0, driver = 0;
  static StackCpu sample(int ws_pid, int rs_pid, int nats_pid, pqxx::connection& c) {
    StackCpu s;
    s.ws = process_cpu_seconds(ws_pid);
    s.rs = process_cpu_seconds(rs_pid);
    s.nats = nats_pid != 0 ? process_cpu_seconds(nats_pid) : 0;
    s.driver = orders::testing::process_cpu_seconds("self");
    pqxx::read_transaction tx(c);
    for (const auto& row :
         tx.exec("SELECT pid, application_name FROM pg_stat_activity "
                 "WHERE datname = current_database() AND pid <> pg_backend_pid()")) {
      const double cpu = process_cpu_seconds(row[0].as<int>());
      s.pg += cpu;
      if (row[1].as<std::string>("") == "write-side") s.pg_ws += cpu;
      if (row[1].as<std::string>("") == "read-side") s.pg_rs += cpu;
    }
    return s;
  }
};

// The first `warmup` seconds run at the same rate but are reported apart: right after a start
// every first (the first apply of each partition, the first plan of each statement on each
// connection, JetStream's first writes) lands on the first commands.
void lag_at_rate(int rate, int seconds, int warmup) {
  NatsServer nats;
  const auto db = shared_pg().create_database("rs_bench_lag");
  const int wport = free_port(), rport = free_port();
  // application_name tells their Postgres backends apart in the CPU breakdown.
  auto ws = start_service(write_side_binary(), {"serve"},
                          {{"DATABASE_URL", db + "?application_name=write-side"},
                           {"NATS_URL", nats.url()},
                           {"WRITE_PORT", std::to_string(wport)},
                           {"LOG_LEVEL", "warn"}},
                          wport, 60s);
  auto rs = start_service(read_side_binary(), {"serve"},
                          {{"DATABASE_URL", db + "?application_name=read-side"},
                           {"NATS_URL", nats.url()},
                           {"READ_PORT", std::to_string(rport)},
                           {"LOG_LEVEL", "warn"}},
                          rport, 60s);
  const int senders = std::clamp(rate / 40, 16, 256);  // open loop: enough for slow answers
  std::atomic<bool> sending{true};
  const auto start = Clock::now() + 200ms;
  const auto measure_from = start + std::chrono::seconds(warmup);
  const auto interval = std::chrono::nanoseconds(1'000'000'000LL * senders / rate);
  OpenLoopDriver driver(wport, rport, rate, senders, 64, start, interval, measure_from);
  std::thread driver_thread([&] { driver.run(sending); });
  std::this_thread::sleep_until(measure_from);
  const auto ok_at_measure = driver.ok();
  // Mid-run: how far the projector is behind what the relay has sequenced (global_log), and how
  // far the relay's sequencing is behind the event store. Tells where the end-to-end lag sits.
  std::this_thread::sleep_until(measure_from + std::chrono::milliseconds(seconds * 500));
  std::string where;
  {
    HttpClient q("127.0.0.1", rport);
    auto p = q.get("/projections");
    pqxx::connection c(db);
    pqxx::read_transaction tx(c);
    auto row = tx.exec1(
        "SELECT (SELECT count(*) FROM outbox), (SELECT coalesce(max(global_position), 0) FROM "
        "global_log), "
        "(SELECT last_published FROM relay_state WHERE id = 1)");
    where = "mid-run: outbox not yet sequenced " + row[0].as<std::string>() + ", sequenced " +
            row[1].as<std::string>() + ", published " + row[2].as<std::string>() +
            ", projections " + p.body;
  }
  // CPU over the second half of the run (steady state): both samples see the same backends.
  pqxx::connection cpu_conn(db);
  const auto cpu_from_at = Clock::now();
  const auto cpu_from =
      StackCpu::sample(ws->pid(), rs->pid(), nats_server_pid(nats.port()), cpu_conn);
  const auto ok_from = driver.ok();
  std::this_thread::sleep_until(measure_from + std::chrono::seconds(seconds));
  const auto cpu_to =
      StackCpu::sample(ws->pid(), rs->pid(), nats_server_pid(nats.port()), cpu_conn);
  const auto cpu_span = std::chrono::duration<double>(Clock::now() - cpu_from_at).count();
  const auto ok_cpu = driver.ok() - ok_from;
  sending = false;
  const auto ok_at_end = driver.ok();
  const double elapsed = std::chrono::duration<double>(Clock::now() - measure_from).count();
  driver_thread.join();  // after the probes still out
  const auto& cmd_ms = driver.latencies_ms();
  const auto& lags_ms = driver.lags_ms();
  std::printf(
      "| %6d cmd/s target | %7.0f cmd/s achieved | cmd p50 %6.2f ms p99 %7.2f ms | lag p50 %6.2f "
      "ms p99 %7.2f ms | samples %zu (max queued %zu) | failed cmds %lld, probes %lld |\n",
      rate, static_cast<double>(ok_at_end - ok_at_measure) / elapsed, pct(cmd_ms, 50),
      pct(cmd_ms, 99), pct(lags_ms, 50), pct(lags_ms, 99), lags_ms.size(),
      driver.max_probes_queued(), static_cast<long long>(driver.failed()),
      static_cast<long long>(driver.probes_failed()));
  if (warmup > 0) {
    const auto& wl = driver.warmup_lags_ms();
    std::printf(
        "  warm-up (first %d s at the same rate, not in the figures above): cmd p50 %.2f ms p99 "
        "%.2f ms,"
        " lag p50 %.2f ms p99 %.2f ms max %.2f ms, %zu samples\n",
        warmup, pct(driver.warmup_latencies_ms(), 50), pct(driver.warmup_latencies_ms(), 99),
        pct(wl, 50), pct(wl, 99), wl.empty() ? 0.0 : *std::max_element(wl.begin(), wl.end()),
        wl.size());
  }
  std::printf("  %s\n", where.c_str());
  if (ok_cpu > 0) {
    const double n = static_cast<double>(ok_cpu);
    auto us = [&](double a, double b) { return (b - a) * 1e6 / n; };
    const double all = (cpu_to.ws + cpu_to.rs + cpu_to.nats + cpu_to.pg + cpu_to.driver) -
                       (cpu_from.ws + cpu_from.rs + cpu_from.nats + cpu_from.pg + cpu_from.driver);
    std::printf(
        "  CPU per command (second half, %lld commands): write-side %.0f us, read-side %.0f us, "
        "nats-server %.0f us, Postgres backends %.0f us (write-side's %.0f, read-side's %.0f), "
        "this driver %.0f us; "
        "together %.0f %% of 2 cores\n",
        static_cast<long long>(ok_cpu), us(cpu_from.ws, cpu_to.ws), us(cpu_from.rs, cpu_to.rs),
        us(cpu_from.nats, cpu_to.nats), us(cpu_from.pg, cpu_to.pg),
        us(cpu_from.pg_ws, cpu_to.pg_ws), us(cpu_from.pg_rs, cpu_to.pg_rs),
        us(cpu_from.driver, cpu_to.driver), all / cpu_span / 2 * 100);
  }
  {
    // Where the relay spends the time (write-side metrics of this run).
    HttpClient w("127.0.0.1", wport);
    auto m = w.get("/metrics");
    std::printf("  relay (write-side /metrics):\n%s%s",
                histogram_summary(m.body, "orders_relay_event_age_seconds").c_str(),
                histogram_summary(m.body, "orders_relay_step_seconds").c_str());
    std::istringstream in(m.body);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("orders_relay_wakeups_total{", 0) == 0 ||
          line.rfind("orders_relay_steps_total{", 0) == 0 ||
          line.rfind("orders_relay_thread_cpu_seconds_total", 0) == 0 ||
          line.rfind("orders_relay_published_total", 0) == 0) {
        std::printf("    %s\n", line.c_str());
      }
    }
    HttpClient r("127.0.0.1", rport);
    auto rm = r.get("/metrics");
    {
      std::istringstream in(rm.body);
      for (std::string line; std::getline(in, line);) {
        if (line.rfind("orders_projector_batch_failures_total", 0) == 0 ||
            line.rfind("orders_projector_duplicates_total", 0) == 0 ||
            line.rfind("orders_projector_gap_filled_total", 0) == 0 ||
            line.rfind("orders_min_version_requeries_total", 0) == 0) {
          std::printf("    %s\n", line.c_str());
        }
      }
    }
    std::printf("  projector (read-side /metrics):\n%s%s%s",
                histogram_summary(rm.body, "orders_projector_event_age_seconds").c_str(),
                histogram_summary(rm.body, "orders_projector_batch_seconds").c_str(),
                histogram_summary(rm.body, "orders_projector_batch_size", 1, "events").c_str());
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int events = 200'000;
  int seconds = 10;
  int batch = 5000;  // PROJECTOR_BATCH's default
  int warmup = 2;
  std::vector<int> rates = {2000, 10000};
  bool skip_projector = false, skip_lag = false, skip_direct = false, statement_stats = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--events")
      events = std::stoi(next());
    else if (a == "--seconds")
      seconds = std::stoi(next());
    else if (a == "--batch")
      batch = std::stoi(next());
    else if (a == "--warmup")
      warmup = std::stoi(next());
    else if (a == "--no-projector")
      skip_projector = true;
    else if (a == "--no-lag")
      skip_lag = true;
    else if (a == "--no-direct")
      skip_direct = true;
    else if (a == "--projector-only")
      skip_lag = skip_direct = true;
    else if (a == "--statement-stats")
      statement_stats = true;  // slows the run: logs every statement
    else if (a == "--help") {
      std::printf(
          "read_side_bench [--events N] [--batch N] [--seconds N] [--warmup S (default 2)] "
          "[--rates R1,R2]\n"
          "  [--projector-only | --no-projector | --no-direct | --no-lag] [--statement-stats]\n");
      return 0;
    } else if (a == "--rates") {
      rates.clear();
      std::stringstream ss(next());
      for (std::string r; std::getline(ss, r, ',');) rates.push_back(std::stoi(r));
    }
  }
  std::printf("read-side benchmark (client and servers share this machine's cores)\n");
  std::string command = argv[0];
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  if (!skip_projector) projector_throughput(events, batch, statement_stats);
  if (!skip_direct) read_side_only_lag(300);
  if (!skip_lag) {
    for (int r : rates) lag_at_rate(r, seconds, warmup);
  }
  std::printf(
      "targets (issue 3): projector >= 50,000 events/s; end-to-end lag p99 < 50 ms at a steady "
      "2,000 cmds/s\n"
      "baselines: the read side alone, publish -> visible, in this run (unless --no-direct); on "
      "this kind\n"
      "  of machine (peers/LIMITS.md): read-model upserts 20-24k rows/s one row per transaction, "
      "165-173k\n"
      "  rows/s 100 rows per statement (pgbench, no fold, no bus); JetStream pull drain with "
      "AckAll 278-312k msgs/s\n"
      "reproduce: %s\n",
      command.c_str());
  return 0;
}
