// The relay's NATS side: connecting (with back-off; NATS being down does not stop sequencing),
// resync with the stream, publishing asynchronously and checking the acks.
// Resync: at (re)start and after any publish error the cursor is the stream's last sequence (rows
// <= it were published before a crash). A stream ahead of global_log, or whose last message is
// not the event global_log has at that position, belongs to another database: nothing is
// published until that is fixed. The cursor only advances over an acknowledged prefix.
#include <algorithm>
#include <unordered_map>

#include "common/codec/bus_envelope.hpp"
#include "write-side/relay/outbox_relay.hpp"
#include "write-side/relay/relay_session.hpp"

namespace orders::relay {

using std::chrono::milliseconds;

namespace {

double seconds_since(Clock::time_point a) {
  return std::chrono::duration<double>(Clock::now() - a).count();
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

// The envelope fields of a relay_step row (columns 3..12): data and metadata are jsonb text,
// copied into the body as they are.
codec::WireFields fields_of(const pqxx::row& row) {
  codec::WireFields f;
  f.event_id = row[4].c_str();
  f.stream_id = row[5].c_str();
  f.version = row[6].as<std::int64_t>();
  f.position = row[7].as<std::int64_t>();
  f.global_position = row[3].as<std::int64_t>();
  f.type = row[8].c_str();
  f.schema_version = row[9].as<std::int64_t>();
  f.recorded_at_us = row[10].as<std::int64_t>();
  f.data_json = row[11].c_str();
  f.metadata_json = row[12].c_str();
  return f;
}

// The debug line of one publish, with the trace id the write-side recorded ("" for an event
// written without one).
void log_publish(log::Logger& log, const nats::OutMessage& m, std::uint64_t global_position,
                 const codec::WireFields& f) {
  log.debug("relay: publish", {{"event_id", m.msg_id},
                               {"global_position", global_position},
                               {"subject", m.subject},
                               {"order_id", f.stream_id},
                               {"trace_id", codec::metadata_string(f.metadata_json, "trace_id")}});
}

// The stream the relay publishes to, as the settings describe it (created or updated).
nats::StreamSpec stream_spec(const RelayOptions& opt) {
  nats::StreamSpec spec;
  spec.name = opt.stream;
  spec.duplicate_window = opt.duplicate_window;
  spec.replicas = opt.stream_replicas;
  spec.max_age = opt.stream_max_age;
  spec.max_bytes = opt.stream_max_bytes;
  return spec;
}

}  // namespace

// Connects to NATS when not connected and the back-off allows; keeps the nats_connected state.
void OutboxRelay::ensure_nats(Session& s) {
  if (s.nc && s.nc->closed()) s.drop_nats();
  if (!s.js && Clock::now() >= s.next_nats_attempt) {
    try {
      nats::ConnectOptions co;
      co.url = opt_.nats_url;
      co.name = opt_.name;
      co.on_connection_change = [this](bool up) { set_nats_connected(up); };
      s.nc.emplace(nats::Connection::connect(co));
      nats::PublisherOptions po;
      po.max_pending =
          std::max<std::int64_t>(1024, 2 * static_cast<std::int64_t>(opt_.publish_batch));
      po.publish_ack_wait = opt_.ack_timeout;
      s.admin.emplace(*s.nc, opt_.ack_timeout);
      s.js.emplace(*s.nc, po);
      s.admin->ensure_stream(stream_spec(opt_));
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
  set_nats_connected(s.nc && s.nc->connected());
}

// Whether this iteration may publish (NATS up, not backing off, cursor in sync with the stream).
bool OutboxRelay::can_publish(Session& s) {
  if (!s.js || !s.nc->connected()) {
    s.need_resync = true;
    return false;
  }
  if (Clock::now() < s.next_nats_attempt) return false;
  if (!s.need_resync) return true;
  try {
    return resync(s);
  } catch (const nats::NatsError& e) {
    fail_publish(s, 1, e.what());
    return false;
  }
}

// Reads the stream's last sequence and restarts publishing right after it. False when the
// stream does not belong to this database (nothing may be published).
bool OutboxRelay::resync(Session& s) {
  const std::uint64_t last = s.admin->ensure_stream(stream_spec(opt_)).last_seq;
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
    auto m = s.admin->get_message(opt_.stream, last);
    if (m) stream_id_at_last = m->header("Nats-Msg-Id");
  }
  if (last > db_sequenced || (last > 0 && (!event_at_last || event_at_last != stream_id_at_last))) {
    ++mismatches_;
    if (!blocked_logged_) {
      log_.error(
          "relay: JetStream stream does not match this database's global_log; NOT publishing",
          {{"stream", opt_.stream},
           {"stream_last_seq", last},
           {"db_last_sequenced", db_sequenced},
           {"db_event_at_last_seq", event_at_last ? *event_at_last : ""},
           {"stream_msg_id_at_last_seq", stream_id_at_last ? *stream_id_at_last : ""}});
      blocked_logged_ = true;
    }
    s.next_nats_attempt = Clock::now() + opt_.backoff_max;
    return false;
  }
  blocked_logged_ = false;
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
}

void OutboxRelay::fail_publish(Session& s, std::uint64_t failures, const std::string& error) {
  publish_errors_ += failures;
  m_.errors->inc(static_cast<double>(failures));
  s.need_resync = true;
  auto d = s.nats_backoff.next();
  s.next_nats_attempt = Clock::now() + d;
  log_.warn("relay: publish failed; will resync with the stream",
            {{"failures", failures}, {"error", error}, {"retry_ms", d.count()}});
}

// Publishes the events of a relay_step result (rows 1.., columns 3..) asynchronously, right
// after the in-flight ones (Nats-Msg-Id = event_id, expected last sequence = global_position - 1,
// the CloudEvents headers and traceparent); their acks are checked by a later settle(). Returns
// how many. At debug level, one line per message with its trace id.
std::uint64_t OutboxRelay::send(Session& s, const pqxx::result& rows) {
  try {
    const auto started = Clock::now();
    const std::size_t before = s.in_flight.size();
    const bool debug = log_.enabled(log::Level::Debug);
    nats::OutMessage m;
    for (pqxx::result::size_type i = 1; i < rows.size(); ++i) {
      const auto& row = rows[i];
      const auto gp = row[3].as<std::uint64_t>();
      const codec::WireFields f = fields_of(row);
      m.subject = subjects_[static_cast<std::size_t>(codec::partition_of(f.stream_id))];
      codec::write_wire_json(m.data, f);
      codec::write_bus_headers(m.headers, f);
      m.msg_id = f.event_id;
      m.expect_last_seq.reset();
      if (gp > 1) m.expect_last_seq = gp - 1;
      s.js->publish_async(m);
      if (debug) log_publish(log_, m, gp, f);
      s.in_flight.emplace_back(gp, m.msg_id);
      s.in_flight_recorded_us.push_back(row[10].as<std::int64_t>());
    }
    const std::size_t n = s.in_flight.size() - before;
    if (n == 0) return 0;
    m_.step_publish->observe(seconds_since(started));
    const std::vector<std::int64_t> sent_us(
        s.in_flight_recorded_us.begin() + static_cast<std::ptrdiff_t>(before),
        s.in_flight_recorded_us.end());
    observe_ages(*m_.age_read, sent_us, sent_us.size());
    return n;
  } catch (const nats::NatsError& e) {
    if (s.js) s.js->wait_async(milliseconds(1));  // abandon whatever is still pending
    s.in_flight.clear();
    s.in_flight_recorded_us.clear();
    fail_publish(s, 1, e.what());
    return 0;
  }
}

// Checks the acks of the in-flight batch (waiting for those not in yet) and advances the cursor
// over the acknowledged prefix; any failure means a resync. Returns the events newly acked.
std::uint64_t OutboxRelay::settle(Session& s) {
  if (s.in_flight.empty()) return 0;
  const auto batch = std::move(s.in_flight);
  const auto recorded_us = std::move(s.in_flight_recorded_us);
  s.in_flight.clear();
  s.in_flight_recorded_us.clear();
  try {
    return settle_results(s, batch, recorded_us);
  } catch (const nats::NatsError& e) {
    if (s.js) s.js->wait_async(milliseconds(1));  // abandon whatever is still pending
    fail_publish(s, 1, e.what());
    return 0;
  }
}

std::uint64_t OutboxRelay::settle_results(
    Session& s, const std::vector<std::pair<std::uint64_t, std::string>>& batch,
    const std::vector<std::int64_t>& recorded_us) {
  const auto acks_started = Clock::now();
  auto results = s.js->wait_async(opt_.ack_timeout);
  m_.step_acks->observe(seconds_since(acks_started));
  std::unordered_map<std::string, const nats::PubResult*> by_id;
  by_id.reserve(results.size());
  for (const auto& r : results) by_id[r.msg_id] = &r;
  std::uint64_t acked_to = s.cursor;
  std::uint64_t failures = 0;
  std::string first_error;
  for (const auto& [gp, id] : batch) {
    auto it = by_id.find(id);
    const nats::PubResult* r = it == by_id.end() ? nullptr : it->second;
    const bool ok = r != nullptr && r->ok && r->sequence == gp;
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
  const std::uint64_t newly = acked_to - s.cursor;
  observe_ages(*m_.age_acked, recorded_us, static_cast<std::size_t>(newly));
  if (newly > 0) {
    // last_published is a hint (resync reads the truth from the stream): written with the next
    // relay_step, not in a round trip of its own.
    s.cursor = acked_to;
    published_ += newly;
    m_.published->inc(static_cast<double>(newly));
  }
  if (failures > 0 || acked_to != batch.back().first) {
    fail_publish(s, std::max<std::uint64_t>(failures, 1),
                 first_error.empty() ? "gap in acks" : first_error);
  } else {
    s.nats_backoff.reset();
  }
  return newly;
}

}  // namespace orders::relay
