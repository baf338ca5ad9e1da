#include "write-side/relay/outbox_relay.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "common/codec/json_text.hpp"
#include "common/codec/recorded_event.hpp"
#include "common/nats/nats.hpp"

namespace orders::relay {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Capped exponential backoff: min, 2*min, 4*min, ... max.
class Backoff {
 public:
  Backoff(milliseconds min, milliseconds max) : min_(min), max_(max), next_(min) {}
  milliseconds next() {
    milliseconds d = next_;
    next_ = std::min(max_, next_ * 2);
    return d;
  }
  void reset() { next_ = min_; }

 private:
  milliseconds min_, max_, next_;
};

class OutboxListener final : public pqxx::notification_receiver {
 public:
  OutboxListener(pqxx::connection_base& c) : pqxx::notification_receiver(c, "outbox") {}
  void operator()(const std::string&, int) override { ++count; }
  std::uint64_t count = 0;
};

struct LeaseLost : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::unique_ptr<pqxx::connection> connect_pg(const std::string& url) {
  auto c = std::make_unique<pqxx::connection>(url);
  // A reconnected lease connection would no longer hold the advisory lock: never reactivate.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  c->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  return c;
}

// The last_published hint (resync reads the truth from the stream) is written at most this often:
// alone it would make an otherwise read-only step a WAL flush.
constexpr milliseconds kMarkEvery{50};

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Observes now - recorded_at of the first n events.
void observe_ages(metrics::Histogram& h, const std::vector<std::int64_t>& recorded_us,
                  std::size_t n) {
  const auto now_us = codec::unix_now_us();
  n = std::min(n, recorded_us.size());
  for (std::size_t i = 0; i < n; ++i) {
    h.observe(static_cast<double>(std::max<std::int64_t>(0, now_us - recorded_us[i])) / 1e6);
  }
}

// The wire form of an event (the fields and values of codec::to_wire_json), written straight from
// the columns of a relay_step row: data and metadata are jsonb text from Postgres, valid JSON
// already, so they are copied instead of parsed and re-serialized.
void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void wire_json(std::string& out, const pqxx::row& row) {
  out.clear();
  out += "{\"event_id\":";
  codec::append_json_string(out, row[4].c_str());
  out += ",\"stream_id\":";
  codec::append_json_string(out, row[5].c_str());
  out += ",\"version\":";
  append_int(out, row[6].as<std::int64_t>());
  out += ",\"position\":";
  append_int(out, row[7].as<std::int64_t>());
  out += ",\"global_position\":";
  append_int(out, row[3].as<std::int64_t>());
  out += ",\"type\":";
  codec::append_json_string(out, row[8].c_str());
  out += ",\"schema_version\":";
  append_int(out, row[9].as<std::int64_t>());
  out += ",\"recorded_at_us\":";
  append_int(out, row[10].as<std::int64_t>());
  out += ",\"data\":";
  out += row[11].c_str();
  out += ",\"metadata\":";
  out += row[12].c_str();
  out += '}';
}

}  // namespace

// One leadership term. Members are destroyed in reverse order: JetStream before its connection,
// the listener before the lease connection (closing it releases the advisory lock).
struct OutboxRelay::Session {
  std::unique_ptr<pqxx::connection> lease;
  std::unique_ptr<OutboxListener> listener;
  std::unique_ptr<pqxx::connection> work;
  std::optional<nats::Connection> nc;
  std::unique_ptr<nats::JetStream> js;

  std::uint64_t cursor = 0;          // highest global_position known to be in the stream
  std::uint64_t last_sequenced = 0;  // as of the last relay_sequence call
  std::uint64_t marked = 0;          // last_published as last written by this term
  Clock::time_point next_mark{};     // the hint is written at most every kMarkEvery
  Clock::time_point next_backlog_check{};
  // Published asynchronously, acks not yet checked (global_position order, right after cursor).
  std::vector<std::pair<std::uint64_t, std::string>> in_flight;  // (global_position, event_id)
  std::vector<std::int64_t> in_flight_recorded_us;
  std::uint64_t sent_to() const { return in_flight.empty() ? cursor : in_flight.back().first; }
  bool need_resync = true;
  Clock::time_point next_nats_attempt{};
  Backoff nats_backoff;

  Session(milliseconds min, milliseconds max) : nats_backoff(min, max) {}
  ~Session() {
    js.reset();
    nc.reset();
  }
  void drop_nats() {
    js.reset();
    nc.reset();
    need_resync = true;
    in_flight.clear();
    in_flight_recorded_us.clear();
  }
};

OutboxRelay::OutboxRelay(RelayOptions options, log::Logger& logger, metrics::Registry& registry)
    : opt_(std::move(options)), log_(logger), reg_(registry) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
  m_published_ =
      &reg_.counter("relay_published_total", "Events published to JetStream by the relay");
  m_errors_ = &reg_.counter("relay_publish_errors_total", "Failed JetStream publishes (retried)");
  m_backlog_ = &reg_.gauge("outbox_backlog", "Committed events not yet acknowledged by JetStream");
  m_leader_ = &reg_.gauge("relay_is_leader", "1 when this process is the active outbox relay");
  m_nats_ = &reg_.gauge("relay_nats_connected", "1 when the relay's NATS connection is up");
  const std::vector<double> fine = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                    0.1,    0.2,   0.5,   1,     2,    5};
  const std::string step_help = "Duration of one relay loop step";
  m_step_sequence_ = &reg_.histogram("relay_step_seconds", step_help, {{"step", "db_step"}}, fine);
  m_step_publish_ = &reg_.histogram("relay_step_seconds", step_help, {{"step", "publish"}}, fine);
  m_step_acks_ = &reg_.histogram("relay_step_seconds", step_help, {{"step", "acks"}}, fine);
  const std::string age_help = "Age of an event (now - recorded_at) at a relay stage";
  m_age_read_ = &reg_.histogram("relay_event_age_seconds", age_help, {{"stage", "read"}}, fine);
  m_age_acked_ = &reg_.histogram("relay_event_age_seconds", age_help, {{"stage", "acked"}}, fine);
  const std::string wake_help = "What started a relay loop iteration";
  m_wake_signal_ = &reg_.counter("relay_wakeups_total", wake_help, {{"by", "signal"}});
  m_wake_notify_ = &reg_.counter("relay_wakeups_total", wake_help, {{"by", "notify"}});
  m_wake_timeout_ = &reg_.counter("relay_wakeups_total", wake_help, {{"by", "timeout"}});
  m_wake_busy_ = &reg_.counter("relay_wakeups_total", wake_help, {{"by", "busy"}});
  const std::string steps_help =
      "relay_step calls: numbered rows, only read events to publish, or found nothing";
  m_steps_sequenced_ = &reg_.counter("relay_steps_total", steps_help, {{"result", "sequenced"}});
  m_steps_read_ = &reg_.counter("relay_steps_total", steps_help, {{"result", "read_only"}});
  m_steps_empty_ = &reg_.counter("relay_steps_total", steps_help, {{"result", "empty"}});
  m_cpu_ = &reg_.counter(
      "relay_thread_cpu_seconds_total",
      "CPU time of the relay thread (Postgres client, message bodies, publishing, acks)");
}

OutboxRelay::~OutboxRelay() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void OutboxRelay::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
  ::pthread_setname_np(thread_.native_handle(), "outbox-relay");  // for top -H / perf
}

void OutboxRelay::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  wake();
  if (thread_.joinable()) thread_.join();
}

void OutboxRelay::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

RelayStats OutboxRelay::stats() const {
  return RelayStats{published_.load(), sequenced_.load(), publish_errors_.load(),
                    resyncs_.load(),   terms_.load(),     mismatches_.load()};
}

void OutboxRelay::sleep_for(milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

void OutboxRelay::run() {
  Backoff backoff(opt_.backoff_min, opt_.backoff_max);
  while (!stopping_) {
    milliseconds delay{0};
    {
      Session s(opt_.backoff_min, opt_.backoff_max);
      try {
        if (acquire_leadership(s)) {
          lead(s);
          backoff.reset();
        }
      } catch (const std::exception& e) {
        delay = backoff.next();
        log_.warn(leader_ ? "relay: leadership lost" : "relay: cannot become leader",
                  {{"error", e.what()}, {"retry_ms", delay.count()}});
      }
      if (leader_) log_.info("relay: leadership ended");
      leader_ = false;
      m_leader_->set(0);
      nats_connected_ = false;
      m_nats_->set(0);
    }  // connections closed here: the advisory lock is released
    if (delay.count() > 0) sleep_for(delay);
  }
}

bool OutboxRelay::acquire_leadership(Session& s) {
  s.lease = connect_pg(opt_.database_url);
  s.lease->prepare("relay_try_lock", "SELECT pg_try_advisory_lock($1)");
  bool logged = false;
  while (!stopping_) {
    bool got = false;
    {
      pqxx::nontransaction tx(*s.lease);
      got = tx.exec_prepared("relay_try_lock", kRelayLockKey)[0][0].as<bool>();
    }
    if (got) break;
    if (!logged) {
      log_.info("relay: another replica is the leader; standing by");
      logged = true;
    }
    sleep_for(opt_.leader_retry);
  }
  if (stopping_) return false;
  s.listener = std::make_unique<OutboxListener>(*s.lease);  // LISTEN outbox

  s.work = connect_pg(opt_.database_url);
  auto& w = *s.work;
  w.prepare("relay_timeout", "SELECT set_config('statement_timeout', $1, false)");
  // One round trip per loop iteration (sql/V013): hint, sequencing, next events to publish.
  w.prepare("relay_step", "SELECT * FROM relay_step($1, $2, $3, $4)");
  w.prepare("relay_set_published", "UPDATE relay_state SET last_published = $1 WHERE id = 1");
  w.prepare("relay_state", "SELECT last_sequenced, last_published FROM relay_state WHERE id = 1");
  w.prepare("relay_event_at",
            "SELECT e.event_id::text FROM global_log g JOIN events e ON e.position = g.position "
            "WHERE g.global_position = $1");
  w.prepare("relay_outbox_count", "SELECT count(*) FROM outbox");
  {
    pqxx::nontransaction tx(w);
    tx.exec_prepared("relay_timeout", std::to_string(opt_.statement_timeout.count()));
    // Every relay statement is a short index range; never let stale statistics of a young table
    // turn one into a scan of `events` (see sql/V013).
    tx.exec(
        "SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_hashjoin = off; "
        "SET enable_mergejoin = off");
    auto st = tx.exec_prepared("relay_state");
    s.last_sequenced = st[0][0].as<std::uint64_t>();
    s.marked = st[0][1].as<std::uint64_t>();
  }
  leader_ = true;
  m_leader_->set(1);
  ++terms_;
  log_.info("relay: became leader",
            {{"stream", opt_.stream}, {"last_sequenced", s.last_sequenced}});
  return true;
}

namespace {

void check_lease(pqxx::connection& lease) {
  if (!lease.is_open()) throw LeaseLost("leader connection closed");
  lease.get_notifs();  // throws broken_connection when the server dropped us
  if (!lease.is_open()) throw LeaseLost("leader connection closed");
}

}  // namespace

void OutboxRelay::lead(Session& s) {
  // codec::subject_for takes the lower-case stream name ("orders") and appends ".events.<p>";
  // nats::subject_prefix_for_stream already ends in ".events".
  std::string prefix = nats::subject_prefix_for_stream(opt_.stream);
  prefix.resize(prefix.size() - std::string_view(".events").size());
  const nats::StreamSpec spec{
      opt_.stream, {nats::subjects_for_stream(opt_.stream)}, true, opt_.duplicate_window, 1};
  bool blocked_logged = false;

  auto ensure_nats = [&] {
    if (s.nc && s.nc->closed()) s.drop_nats();
    if (!s.js) {
      if (Clock::now() < s.next_nats_attempt) return;
      try {
        nats::ConnectOptions co;
        co.url = opt_.nats_url;
        co.name = opt_.name;
        co.on_connection_change = [this](bool up) {
          nats_connected_ = up;
          m_nats_->set(up ? 1 : 0);
        };
        s.nc.emplace(nats::Connection::connect(co));
        nats::JetStreamOptions jo;
        jo.max_pending = std::max<std::int64_t>(1024, 2 * opt_.publish_batch);
        jo.publish_ack_wait = opt_.ack_timeout;
        s.js = std::make_unique<nats::JetStream>(*s.nc, jo);
        s.js->ensure_stream(spec);
        s.need_resync = true;
        s.nats_backoff.reset();
        log_.info("relay: connected to NATS", {{"url", opt_.nats_url}, {"stream", opt_.stream}});
      } catch (const nats::NatsError& e) {
        s.drop_nats();
        auto d = s.nats_backoff.next();
        s.next_nats_attempt = Clock::now() + d;
        log_.warn("relay: NATS unavailable", {{"error", e.what()}, {"retry_ms", d.count()}});
      }
    }
    bool up = s.nc && s.nc->connected();
    nats_connected_ = up;
    m_nats_->set(up ? 1 : 0);
  };

  // Reads the stream's last sequence and restarts publishing right after it. False when the
  // stream does not belong to this database (nothing may be published).
  auto resync = [&]() -> bool {
    auto info = s.js->ensure_stream(spec);
    std::uint64_t last = info.last_seq;
    std::uint64_t db_sequenced = 0, db_published = 0;
    std::optional<std::string> event_at_last;
    {
      pqxx::nontransaction tx(*s.work);
      auto st = tx.exec_prepared("relay_state");
      db_sequenced = st[0][0].as<std::uint64_t>();
      db_published = st[0][1].as<std::uint64_t>();
      if (last > 0) {
        auto r = tx.exec_prepared("relay_event_at", static_cast<std::int64_t>(last));
        if (!r.empty()) event_at_last = r[0][0].as<std::string>();
      }
    }
    s.last_sequenced = std::max(s.last_sequenced, db_sequenced);
    std::optional<std::string> stream_id_at_last;
    if (last > 0) {
      auto m = s.js->get_message(opt_.stream, last);
      if (m) stream_id_at_last = m->header("Nats-Msg-Id");
    }
    if (last > db_sequenced ||
        (last > 0 && (!event_at_last || event_at_last != stream_id_at_last))) {
      ++mismatches_;
      if (!blocked_logged) {
        log_.error(
            "relay: JetStream stream does not match this database's global_log; NOT publishing",
            {{"stream", opt_.stream},
             {"stream_last_seq", last},
             {"db_last_sequenced", db_sequenced},
             {"db_event_at_last_seq", event_at_last ? *event_at_last : ""},
             {"stream_msg_id_at_last_seq", stream_id_at_last ? *stream_id_at_last : ""}});
        blocked_logged = true;
      }
      s.next_nats_attempt = Clock::now() + opt_.backoff_max;
      return false;
    }
    blocked_logged = false;
    if (db_published != last) {
      pqxx::work tx(*s.work);
      tx.exec_prepared("relay_set_published", static_cast<std::int64_t>(last));
      tx.commit();
    }
    if (db_published != last || s.cursor != last) {
      log_.info(
          "relay: resynced with stream",
          {{"stream_last_seq", last}, {"db_last_published", db_published}, {"cursor", s.cursor}});
    }
    s.cursor = last;
    s.marked = last;
    s.need_resync = false;
    ++resyncs_;
    return true;
  };

  auto fail_publish = [&](std::uint64_t failures, const std::string& error) {
    publish_errors_ += failures;
    m_errors_->inc(static_cast<double>(failures));
    s.need_resync = true;
    auto d = s.nats_backoff.next();
    s.next_nats_attempt = Clock::now() + d;
    log_.warn("relay: publish failed; will resync with the stream",
              {{"failures", failures}, {"error", error}, {"retry_ms", d.count()}});
  };

  // Whether this iteration may publish (NATS up, not backing off, cursor in sync with the stream).
  auto can_publish = [&]() -> bool {
    if (!s.js || !s.nc->connected()) {
      s.need_resync = true;
      return false;
    }
    if (Clock::now() < s.next_nats_attempt) return false;
    if (!s.need_resync) return true;
    try {
      return resync();
    } catch (const nats::NatsError& e) {
      fail_publish(1, e.what());
      return false;
    }
  };

  // Checks the acks of the in-flight batch (waiting for those not in yet) and advances the
  // cursor over the acknowledged prefix; any failure means a resync with the stream. Returns the
  // number of events newly acknowledged.
  auto settle = [&]() -> std::uint64_t {
    if (s.in_flight.empty()) return 0;
    const auto batch = std::move(s.in_flight);
    const auto recorded_us = std::move(s.in_flight_recorded_us);
    s.in_flight.clear();
    s.in_flight_recorded_us.clear();
    try {
      const auto acks_started = Clock::now();
      auto results = s.js->wait_async(opt_.ack_timeout);
      m_step_acks_->observe(seconds_between(acks_started, Clock::now()));
      std::unordered_map<std::string, const nats::PubResult*> by_id;
      by_id.reserve(results.size());
      for (const auto& r : results) by_id[r.msg_id] = &r;
      std::uint64_t acked_to = s.cursor;
      std::uint64_t failures = 0;
      std::string first_error;
      for (const auto& [gp, id] : batch) {
        auto it = by_id.find(id);
        const nats::PubResult* r = it == by_id.end() ? nullptr : it->second;
        bool ok = r != nullptr && r->ok && r->sequence == gp;
        if (ok && acked_to + 1 == gp) {
          acked_to = gp;
          continue;
        }
        if (!ok) {
          ++failures;
          if (first_error.empty()) {
            first_error = r == nullptr ? "no ack"
                          : r->ok      ? "acked at sequence " + std::to_string(r->sequence) +
                                        " instead of " + std::to_string(gp)
                                  : r->error;
          }
        }
      }
      std::uint64_t newly = acked_to - s.cursor;
      observe_ages(*m_age_acked_, recorded_us, static_cast<std::size_t>(newly));
      if (newly > 0) {
        // last_published is a hint (resync reads the truth from the stream): written with the
        // next relay_step, not in a round trip of its own.
        s.cursor = acked_to;
        published_ += newly;
        m_published_->inc(static_cast<double>(newly));
      }
      if (failures > 0 || acked_to != batch.back().first) {
        fail_publish(std::max<std::uint64_t>(failures, 1),
                     first_error.empty() ? "gap in acks" : first_error);
      } else {
        s.nats_backoff.reset();
      }
      return newly;
    } catch (const nats::NatsError& e) {
      if (s.js) s.js->wait_async(milliseconds(1));  // abandon whatever is still pending
      fail_publish(1, e.what());
      return 0;
    }
  };

  // Publishes the events of a relay_step result (rows 1.., columns 3..) asynchronously, right
  // after the in-flight ones; their acks are checked by the next settle(). Returns how many.
  auto send = [&](const pqxx::result& rows) -> std::uint64_t {
    try {
      const auto started = Clock::now();
      const std::size_t before = s.in_flight.size();
      nats::OutMessage m;
      for (pqxx::result::size_type i = 1; i < rows.size(); ++i) {
        const auto& row = rows[i];
        const auto gp = row[3].as<std::uint64_t>();
        m.subject = codec::subject_for(prefix, row[5].c_str());
        wire_json(m.data, row);
        m.msg_id = row[4].c_str();
        m.expect_last_seq.reset();
        if (gp > 1) m.expect_last_seq = gp - 1;
        s.js->publish_async(m);
        s.in_flight.emplace_back(gp, m.msg_id);
        s.in_flight_recorded_us.push_back(row[10].as<std::int64_t>());
      }
      const std::size_t n = s.in_flight.size() - before;
      if (n == 0) return 0;
      m_step_publish_->observe(seconds_between(started, Clock::now()));
      const std::vector<std::int64_t> sent_us(
          s.in_flight_recorded_us.begin() + static_cast<std::ptrdiff_t>(before),
          s.in_flight_recorded_us.end());
      observe_ages(*m_age_read_, sent_us, sent_us.size());
      return n;
    } catch (const nats::NatsError& e) {
      if (s.js) s.js->wait_async(milliseconds(1));  // abandon whatever is still pending
      s.in_flight.clear();
      s.in_flight_recorded_us.clear();
      fail_publish(1, e.what());
      return 0;
    }
  };

  // Wake-up pending (in-process signal or NOTIFY) without consuming it.
  auto wake_pending = [&]() -> bool {
    pollfd fds[2] = {{s.lease->sock(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    return ::poll(fds, 2, 0) > 0;
  };

  // One iteration: relay_step (hint, sequencing, the events after what is already in flight),
  // then the acks of the previous batches if they are all in, then publish the new events. The
  // ack wait is off the path from a commit to its publish.
  double cpu_seen = thread_cpu_seconds();
  while (!stopping_) {
    {
      const double cpu = thread_cpu_seconds();
      m_cpu_->inc(std::max(0.0, cpu - cpu_seen));
      cpu_seen = cpu;
    }
    check_lease(*s.lease);
    // The step below sees every commit signalled so far: consume those signals, so that only the
    // ones arriving during the step start another (non-blocking read; nothing to read is fine).
    {
      std::uint64_t v = 0;
      [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof v);
    }
    const std::uint64_t notes_before = s.listener->count;
    ensure_nats();
    const bool may_publish = can_publish();
    const std::uint64_t from = may_publish ? s.sent_to() : s.cursor;
    std::uint64_t n_seq = 0;
    pqxx::result step;
    {
      // Autocommit: the implicit transaction (numbering, hint) commits before the rows arrive,
      // so nothing is published under a position that could still be lost.
      const auto seq_started = Clock::now();
      const std::uint64_t mark = std::min(s.cursor, s.last_sequenced);
      const bool mark_due = mark > s.marked && seq_started >= s.next_mark;
      pqxx::nontransaction tx(*s.work);
      step = tx.exec_prepared("relay_step", static_cast<std::int64_t>(from),
                              static_cast<std::int64_t>(mark_due ? mark : 0), opt_.sequence_batch,
                              may_publish ? opt_.publish_batch : 0);
      if (mark_due) {
        s.marked = mark;
        s.next_mark = seq_started + kMarkEvery;
      }
      n_seq = step[0][0].as<std::uint64_t>();
      s.last_sequenced = step[0][1].as<std::uint64_t>();
      m_step_sequence_->observe(seconds_between(seq_started, Clock::now()));
    }
    sequenced_ += n_seq;
    if (stopping_) break;
    check_lease(*s.lease);
    // The previous batches' acks are checked now only when all of them are in (they usually
    // arrive while the database works): waiting for a slow ack must not delay the new events.
    // JetStream keeps the order (ExpectLastSeq), and a failure found later means a resync.
    if (!s.in_flight.empty() &&
        (!s.js || s.js->async_pending() == 0 ||
         s.in_flight.size() >= static_cast<std::size_t>(opt_.publish_batch))) {
      settle();
    }
    std::uint64_t n_sent = 0;
    // After a failed ack the cursor is behind `from` and a resync comes first: drop the rows.
    if (may_publish && !s.need_resync && s.sent_to() == from) n_sent = send(step);
    (n_seq > 0 ? m_steps_sequenced_ : step.size() > 1 ? m_steps_read_ : m_steps_empty_)->inc();
    if (n_seq >= static_cast<std::uint64_t>(opt_.sequence_batch) ||
        n_sent >= static_cast<std::uint64_t>(opt_.publish_batch)) {
      m_wake_busy_->inc();
      continue;  // more work right away
    }
    if (!s.in_flight.empty()) {
      // Another commit is waiting: sequence it while these acks arrive. Else settle them now.
      if (wake_pending()) {
        m_wake_busy_->inc();
        continue;
      }
      settle();
    }

    // Idle (or blocked on NATS): report the backlog (at most once a second: counting a queue
    // table walks its dead rows), then wait for a notification / wake().
    if (Clock::now() >= s.next_backlog_check) {
      pqxx::nontransaction tx(*s.work);
      auto outbox = tx.exec_prepared("relay_outbox_count")[0][0].as<std::uint64_t>();
      m_backlog_->set(
          static_cast<double>(outbox + (s.last_sequenced - std::min(s.cursor, s.last_sequenced))));
      s.next_backlog_check = Clock::now() + std::chrono::seconds(1);
    }
    // No committed row is ever left behind by a step (V015: relay_step's `waiting` is always 0),
    // so an idle relay sleeps until a commit wakes it, or the fallback poll.
    milliseconds timeout = opt_.poll_interval;
    // A last_published hint not yet written goes with the next relay_step; when idle, soon.
    if (std::min(s.cursor, s.last_sequenced) > s.marked) {
      auto until =
          std::chrono::duration_cast<milliseconds>(s.next_mark - Clock::now()) + milliseconds(1);
      timeout = std::min(timeout, std::clamp(until, milliseconds(1), kMarkEvery));
    }
    bool unpublished = s.cursor < s.last_sequenced || s.need_resync;
    if (unpublished && !s.js) {
      auto until = std::chrono::duration_cast<milliseconds>(s.next_nats_attempt - Clock::now());
      timeout = std::min(timeout, std::clamp(until, milliseconds(1), opt_.poll_interval));
    } else if (unpublished && s.js && s.nc->connected()) {
      auto until = std::chrono::duration_cast<milliseconds>(s.next_nats_attempt - Clock::now());
      timeout = std::min(timeout, std::clamp(until, milliseconds(0), opt_.poll_interval));
    }
    if (stopping_) break;
    check_lease(*s.lease);
    if (s.listener->count != notes_before) {  // a commit arrived while we worked
      m_wake_notify_->inc();
      continue;
    }
    pollfd fds[2] = {{s.lease->sock(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int rc = ::poll(fds, 2, static_cast<int>(timeout.count()));
    if (rc > 0 && (fds[1].revents & POLLIN)) {
      std::uint64_t v = 0;
      [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof v);
      m_wake_signal_->inc();
    } else if (rc > 0) {
      m_wake_notify_->inc();
    } else {
      m_wake_timeout_->inc();
    }
  }
  settle();  // leaving: check what is still in flight (the next term resyncs anyway)
}

}  // namespace orders::relay
