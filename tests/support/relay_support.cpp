#include "tests/support/relay_support.hpp"

#include <algorithm>
#include <set>
#include <thread>
#include <unordered_map>

#include "common/nats/stream_admin.hpp"
#include "common/pg/migrations.hpp"
#include "tests/support/nats_reader.hpp"
#include "tests/support/services.hpp"

namespace orders::relay_test {

std::string migrated_database(const std::string& hint) {
  auto url = testing::shared_pg().create_database(hint);
  pqxx::connection c(url);
  pg::apply_migrations(c);
  return url;
}

std::vector<Appended> append_tx(pqxx::connection& conn, const std::vector<std::string>& streams,
                                std::chrono::microseconds pause, bool rollback) {
  std::vector<Appended> out;
  pqxx::work tx(conn);
  for (const auto& stream : streams) {
    auto last = tx.exec_params("SELECT coalesce(max(version), 0) FROM events WHERE stream_id = $1",
                               stream)[0][0]
                    .as<std::int64_t>();
    auto r = tx.exec_params(
        "INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
        "VALUES (gen_random_uuid(), $1, $2::bigint, 'OrderItemAdded', 1, "
        "jsonb_build_object('product_id', 'p' || $2::bigint::text, 'quantity', 1, 'price', "
        "'1.00')) "
        "RETURNING position, event_id::text",
        stream, last + 1);
    tx.exec_params("INSERT INTO outbox (position) VALUES ($1)", r[0][0].as<std::int64_t>());
    out.push_back({r[0][1].as<std::string>(), stream, last + 1});
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
  if (rollback) {
    tx.abort();
    return {};
  }
  tx.commit();
  return out;
}

std::vector<Appended> bulk_append(const std::string& url, int n, int orders) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  auto rows = tx.exec_params(
      "WITH base AS (SELECT 'bulk-' || (g % $2::int) AS stream_id, g / $2::int AS k "
      "              FROM generate_series(0, $1::int - 1) g), "
      "ins AS (INSERT INTO events (event_id, stream_id, version, type, schema_version, data) "
      "        SELECT gen_random_uuid(), b.stream_id, "
      "               coalesce((SELECT max(version) FROM events e WHERE e.stream_id = "
      "b.stream_id), 0) + b.k + 1, "
      "               'OrderItemAdded', 1, '{}' FROM base b ORDER BY b.k, b.stream_id "
      "        RETURNING position, event_id::text, stream_id, version), "
      "ob AS (INSERT INTO outbox (position) SELECT position FROM ins) "
      "SELECT event_id, stream_id, version FROM ins",
      n, orders);
  tx.commit();
  std::vector<Appended> out;
  for (const auto& r : rows)
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::int64_t>()});
  return out;
}

void Ledger::add(const std::vector<Appended>& events) {
  std::lock_guard lock(mu_);
  events_.insert(events_.end(), events.begin(), events.end());
}
std::vector<Appended> Ledger::all() const {
  std::lock_guard lock(mu_);
  return events_;
}
std::size_t Ledger::size() const {
  std::lock_guard lock(mu_);
  return events_.size();
}

std::uint64_t stream_msgs(const std::string& nats_url, const std::string& stream) {
  auto conn = nats::Connection::connect(nats_url, "relay-test-probe");
  nats::StreamAdmin admin(conn);
  auto info = admin.stream_info(stream);
  return info ? info->msgs : 0;
}

std::vector<StreamMsg> read_stream(const std::string& nats_url, const std::string& stream,
                                   std::chrono::milliseconds deadline) {
  auto conn = nats::Connection::connect(nats_url, "relay-test-reader");
  nats::StreamAdmin admin(conn);
  auto info = admin.stream_info(stream);
  std::vector<StreamMsg> out;
  if (!info || info->msgs == 0) return out;
  testing::ReaderSpec spec;
  spec.stream = stream;
  testing::NatsReader sub(admin, spec);
  auto until = std::chrono::steady_clock::now() + deadline;
  while (out.size() < info->msgs && std::chrono::steady_clock::now() < until) {
    for (auto& m : sub.fetch(1000, std::chrono::milliseconds(500))) {
      StreamMsg s;
      s.seq = m.stream_sequence();
      s.msg_id = m.header("Nats-Msg-Id").value_or("");
      s.body = nlohmann::json::parse(m.data());
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::string verify_stream(const std::vector<StreamMsg>& msgs,
                          const std::vector<Appended>& committed) {
  if (msgs.size() != committed.size()) {
    return "stream has " + std::to_string(msgs.size()) + " messages, committed " +
           std::to_string(committed.size());
  }
  std::unordered_map<std::string, const Appended*> by_id;
  for (const auto& a : committed) by_id[a.event_id] = &a;
  std::set<std::string> seen;
  std::unordered_map<std::string, std::int64_t> last_version;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    if (m.seq != i + 1)
      return "sequence " + std::to_string(m.seq) + " at index " + std::to_string(i);
    if (m.body.value("global_position", std::int64_t{-1}) != static_cast<std::int64_t>(m.seq)) {
      return "global_position " + m.body.value("global_position", nlohmann::json()).dump() +
             " at seq " + std::to_string(m.seq);
    }
    std::string id = m.body.value("event_id", "");
    if (id != m.msg_id) return "Nats-Msg-Id " + m.msg_id + " != body event_id " + id;
    if (!seen.insert(id).second)
      return "duplicate event " + id + " at seq " + std::to_string(m.seq);
    auto it = by_id.find(id);
    if (it == by_id.end()) return "uncommitted event " + id + " at seq " + std::to_string(m.seq);
    auto stream = m.body.value("stream_id", "");
    auto version = m.body.value("version", std::int64_t{0});
    if (stream != it->second->stream_id || version != it->second->version)
      return "body mismatch for " + id;
    auto& lv = last_version[stream];
    if (version != lv + 1) {
      return "order " + stream + ": version " + std::to_string(version) + " after " +
             std::to_string(lv) + " at seq " + std::to_string(m.seq);
    }
    lv = version;
  }
  return "";
}

}  // namespace orders::relay_test
