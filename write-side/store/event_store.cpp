#include "write-side/store/event_store.hpp"

#include <limits>
#include <variant>

#include "common/codec/event_codec.hpp"
#include "common/codec/state_codec.hpp"

namespace orders::write_side {
namespace {

// Every statement the write-side runs, prepared once per connection.
struct Statement {
  const char* name;
  const char* sql;
};

constexpr Statement kStatements[] = {
    {"ws_load",
     "WITH ids AS (SELECT DISTINCT jsonb_array_elements_text($1::jsonb) AS stream_id), "
     "s AS (SELECT sn.stream_id, sn.version, sn.state FROM snapshots sn "
     "      JOIN ids ON ids.stream_id = sn.stream_id WHERE sn.state_schema = $2) "
     "SELECT 0 AS k, s.stream_id, s.version, NULL::text AS type, NULL::int AS schema_version, "
     "       s.state::text AS data FROM s "
     "UNION ALL "
     // LATERAL so the snapshot's version bounds an index range scan on (stream_id, version);
     // a plain join filtered after reading every event of a long stream (10x slower at 10k).
     // OFFSET 0 keeps the planner from flattening it into a hash join over a seq scan of events,
     // which the generic plan picked when one long stream dominated the table's statistics.
     "SELECT 1, e.stream_id, e.version, e.type, e.schema_version, e.data::text "
     "  FROM ids LEFT JOIN s ON s.stream_id = ids.stream_id "
     "  CROSS JOIN LATERAL (SELECT * FROM all_events ev WHERE ev.stream_id = ids.stream_id "
     "                        AND ev.version > coalesce(s.version, 0) "
     "                      ORDER BY ev.version OFFSET 0) e "
     "ORDER BY 2, 1, 3"},
    {"ws_catch_up",
     "SELECT e.version, e.stream_id, e.type, e.schema_version, e.data::text "
     "  FROM jsonb_to_recordset($1::jsonb) AS c(stream_id text, version bigint) "
     "  CROSS JOIN LATERAL (SELECT * FROM all_events ev WHERE ev.stream_id = c.stream_id "
     "                        AND ev.version > c.version ORDER BY ev.version OFFSET 0) e "
     "ORDER BY 2, 1"},
    {"ws_events_range",
     "SELECT version, type, schema_version, data::text FROM all_events "
     "WHERE stream_id = $1 AND version > $2 AND version <= $3 ORDER BY version"},
    {"ws_snapshot_at_most",
     "SELECT version, state::text FROM snapshots "
     "WHERE stream_id = $1 AND state_schema = $2 AND version <= $3"},
    {"ws_events_until",
     "SELECT version, type, schema_version, data::text FROM all_events "
     "WHERE stream_id = $1 AND recorded_at <= 'epoch'::timestamptz + $2::bigint * interval '1 "
     "microsecond' "
     "ORDER BY version"},
    {"ws_read_events",
     "SELECT event_id::text, version, position, type, schema_version, data::text, metadata::text, "
     "       (extract(epoch FROM recorded_at) * 1000000)::bigint "
     "FROM all_events WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3"},
    {"ws_dropped",
     "SELECT extract(year FROM archived_on)::int FROM archived_streams "
     "WHERE stream_id = $1 AND dropped_at IS NOT NULL"},
    {"ws_stream_version", "SELECT coalesce(max(version), 0) FROM all_events WHERE stream_id = $1"},
    {"ws_append",
     "SELECT kind, id, pos, recorded_at_us FROM ws_append_batch($1::jsonb, $2::jsonb, $3::jsonb, "
     "$4::jsonb)"},
    {"ws_find_keys",
     "SELECT key, endpoint, request_hash, status, body::text, position, headers::text "
     "FROM idempotency_keys "
     "WHERE key IN (SELECT jsonb_array_elements_text($1::jsonb))"},
    {"ws_delete_expired_keys",
     "DELETE FROM idempotency_keys WHERE created_at < now() - $1::bigint * interval '1 second'"},
    {"ws_outbox_backlog", "SELECT count(*) FROM outbox"},
    {"ws_ping", "SELECT 1"},
};

domain::Event decode_row(const std::string& stream_id, const pqxx::row& row, int type_col) {
  const std::string type = row[type_col].as<std::string>();
  const int schema_version = row[type_col + 1].as<int>();
  auto data = nlohmann::json::parse(row[type_col + 2].c_str(), nullptr, false);
  if (data.is_discarded()) throw CorruptStream("stream " + stream_id + ": event data is not JSON");
  auto decoded = codec::decode_event(type, schema_version, data);
  if (auto* err = std::get_if<codec::DecodeError>(&decoded)) {
    throw CorruptStream("stream " + stream_id + " version " + row[0].as<std::string>() + ": " +
                        err->message);
  }
  return std::get<domain::Event>(std::move(decoded));
}

// Applies rows (version, type, schema_version, data) in order.
void apply_rows(domain::OrderState& state, const std::string& stream_id, const pqxx::result& rows) {
  for (const auto& row : rows) {
    state = domain::evolve(std::move(state), decode_row(stream_id, row, 1));
    state.version = row[0].as<std::int64_t>();
  }
}

std::optional<domain::OrderState> snapshot_state(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return codec::state_from_snapshot_json(j);
}

std::optional<domain::OrderState> replay_range(pqxx::connection& conn, const std::string& stream_id,
                                               std::int64_t to_version) {
  pqxx::nontransaction tx(conn);
  domain::OrderState state;
  std::int64_t from = 0;
  auto snap =
      tx.exec_prepared("ws_snapshot_at_most", stream_id, codec::kStateSchemaVersion, to_version);
  if (!snap.empty()) {
    if (auto s = snapshot_state(snap[0][1].as<std::string>())) {
      state = std::move(*s);
      state.version = snap[0][0].as<std::int64_t>();
      from = state.version;
    }
  }
  apply_rows(state, stream_id, tx.exec_prepared("ws_events_range", stream_id, from, to_version));
  if (!state.exists()) return std::nullopt;
  return state;
}

// The stored form of a keyed response's body: its fields, without the "position" that the store
// takes from the command's last event at commit (rendered as null until then).
nlohmann::json stored_body_fields(const NewKeyRecord& k) {
  auto fields = nlohmann::json::parse(k.response.body, nullptr, false);
  if (!fields.is_object())
    throw std::invalid_argument("idempotent response body is not a JSON object");
  if (k.last_event_id) fields.erase("position");
  return fields;
}

// The body exactly as first sent: the stored fields plus the position recorded at commit. Both are
// rendered by nlohmann::json (sorted keys, compact), so the bytes are the original ones.
std::string replayed_body(const char* fields_text, const pqxx::field& position) {
  auto body = nlohmann::json::parse(fields_text);
  if (!position.is_null()) body["position"] = position.as<std::int64_t>();
  return body.dump();
}

nlohmann::json headers_json(const std::vector<std::pair<std::string, std::string>>& headers) {
  auto j = nlohmann::json::object();
  for (const auto& [k, v] : headers) j[k] = v;
  return j;
}

}  // namespace

void prepare_statements(pqxx::connection& conn) {
  for (const auto& s : kStatements) conn.prepare(s.name, s.sql);
}

std::unordered_map<std::string, LoadedStream> load_streams(
    pqxx::connection& conn, const std::vector<std::string>& stream_ids) {
  std::unordered_map<std::string, LoadedStream> out;
  if (stream_ids.empty()) return out;
  for (const auto& id : stream_ids) out.emplace(id, LoadedStream{});
  std::vector<std::string> without_snapshot;  // snapshot present but unreadable: full replay
  {
    pqxx::nontransaction tx(conn);
    auto rows =
        tx.exec_prepared("ws_load", nlohmann::json(stream_ids).dump(), codec::kStateSchemaVersion);
    std::unordered_set<std::string> broken;
    for (const auto& row : rows) {
      const std::string stream_id = row[1].as<std::string>();
      if (broken.count(stream_id)) continue;
      auto& loaded = out[stream_id];
      auto& state = loaded.state;
      if (row[0].as<int>() == 0) {
        auto snap = snapshot_state(row[5].as<std::string>());
        if (!snap) {
          broken.insert(stream_id);
          without_snapshot.push_back(stream_id);
          continue;
        }
        state = std::move(*snap);
        state.version = row[2].as<std::int64_t>();
      } else {
        state = domain::evolve(std::move(state), decode_row(stream_id, row, 3));
        state.version = row[2].as<std::int64_t>();
        ++loaded.replayed;
      }
    }
  }
  for (const auto& id : without_snapshot) {
    domain::OrderState state;
    pqxx::nontransaction tx(conn);
    apply_rows(state, id,
               tx.exec_prepared("ws_events_range", id, std::int64_t{0},
                                std::numeric_limits<std::int64_t>::max()));
    const std::int64_t replayed = state.version;
    out[id] = LoadedStream{std::move(state), replayed};
  }
  return out;
}

void catch_up_streams(pqxx::connection& conn,
                      std::unordered_map<std::string, LoadedStream>& streams) {
  if (streams.empty()) return;
  auto from = nlohmann::json::array();
  for (const auto& [id, l] : streams)
    from.push_back({{"stream_id", id}, {"version", l.state.version}});
  pqxx::nontransaction tx(conn);
  for (const auto& row : tx.exec_prepared("ws_catch_up", from.dump())) {
    const std::string stream_id = row[1].as<std::string>();
    auto& loaded = streams.at(stream_id);
    loaded.state = domain::evolve(std::move(loaded.state), decode_row(stream_id, row, 2));
    loaded.state.version = row[0].as<std::int64_t>();
    ++loaded.replayed;
  }
}

std::optional<domain::OrderState> state_at_version(pqxx::connection& conn,
                                                   const std::string& stream_id,
                                                   std::int64_t version) {
  if (version < 1) return std::nullopt;
  auto state = replay_range(conn, stream_id, version);
  if (!state || state->version != version) return std::nullopt;
  return state;
}

std::optional<domain::OrderState> state_at_time(pqxx::connection& conn,
                                                const std::string& stream_id, std::int64_t at_us) {
  domain::OrderState state;
  {
    pqxx::nontransaction tx(conn);
    apply_rows(state, stream_id, tx.exec_prepared("ws_events_until", stream_id, at_us));
  }
  if (!state.exists()) return std::nullopt;
  return state;
}

std::optional<domain::OrderState> current_state(pqxx::connection& conn,
                                                const std::string& stream_id) {
  return replay_range(conn, stream_id, std::numeric_limits<std::int64_t>::max());
}

std::vector<codec::RecordedEvent> read_events(pqxx::connection& conn, const std::string& stream_id,
                                              std::int64_t from_version, std::int64_t limit) {
  pqxx::nontransaction tx(conn);
  auto rows = tx.exec_prepared("ws_read_events", stream_id, from_version, limit);
  std::vector<codec::RecordedEvent> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    codec::RecordedEvent e;
    e.event_id = row[0].as<std::string>();
    e.stream_id = stream_id;
    e.version = row[1].as<std::int64_t>();
    e.position = row[2].as<std::int64_t>();
    e.type = row[3].as<std::string>();
    e.schema_version = row[4].as<int>();
    e.data = nlohmann::json::parse(row[5].c_str(), nullptr, false);
    e.metadata = nlohmann::json::parse(row[6].c_str(), nullptr, false);
    if (e.data.is_discarded() || e.metadata.is_discarded()) {
      throw CorruptStream("stream " + stream_id + ": stored JSON unreadable");
    }
    e.recorded_at_us = row[7].as<std::int64_t>();
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<int> history_dropped_in(pqxx::connection& conn, const std::string& stream_id) {
  pqxx::nontransaction tx(conn);
  auto r = tx.exec_prepared("ws_dropped", stream_id);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<int>();
}

std::int64_t stream_version(pqxx::connection& conn, const std::string& stream_id) {
  pqxx::nontransaction tx(conn);
  return tx.exec_prepared1("ws_stream_version", stream_id)[0].as<std::int64_t>();
}

AppendResult append_batch(pqxx::connection& conn, const std::vector<NewEvent>& events,
                          const std::vector<NewKeyRecord>& keys,
                          const std::vector<NewSnapshot>& snapshots,
                          const std::vector<VersionCheck>& checks) {
  // The events parameter is built as text directly: this runs on the committer's critical path.
  std::string ev;
  ev.reserve(events.size() * 320 + 2);
  ev.push_back('[');
  int ord = 0;
  for (const auto& e : events) {
    if (ord > 0) ev.push_back(',');
    ev += "{\"ord\":";
    ev += std::to_string(ord++);
    ev += ",\"event_id\":";
    append_json_string(ev, e.event_id);
    ev += ",\"stream_id\":";
    append_json_string(ev, e.stream_id);
    ev += ",\"version\":";
    ev += std::to_string(e.version);
    ev += ",\"type\":";
    append_json_string(ev, e.type);
    ev += ",\"schema_version\":";
    ev += std::to_string(e.schema_version);
    ev += ",\"data\":";
    ev += e.data.empty() ? std::string_view("{}") : std::string_view(e.data);
    ev += ",\"metadata\":";
    ev += e.metadata.empty() ? std::string_view("{}") : std::string_view(e.metadata);
    ev.push_back('}');
  }
  ev.push_back(']');
  auto ks = nlohmann::json::array();
  for (const auto& k : keys) {
    ks.push_back(
        {{"key", k.key},
         {"stream_id", k.stream_id},
         {"endpoint", k.endpoint},
         {"request_hash", k.request_hash},
         {"status", k.response.status},
         {"body", stored_body_fields(k)},
         {"headers", headers_json(k.response.headers)},
         {"last_event_id", k.last_event_id ? nlohmann::json(*k.last_event_id) : nlohmann::json()}});
  }
  auto ss = nlohmann::json::array();
  for (const auto& s : snapshots) {
    ss.push_back({{"stream_id", s.stream_id},
                  {"version", s.version},
                  {"state_schema", codec::kStateSchemaVersion},
                  {"state", s.state}});
  }
  auto cs = nlohmann::json::array();
  for (const auto& c : checks)
    cs.push_back({{"stream_id", c.stream_id}, {"version", c.base_version}});

  AppendResult result;
  pqxx::nontransaction tx(conn);
  auto rows = tx.exec_prepared("ws_append", ev, ks.dump(), ss.dump(), cs.dump());
  result.events.reserve(rows.size());
  for (const auto& row : rows) {
    const char kind = row[0].c_str()[0];
    if (kind == 'e') {
      result.events.emplace(
          row[1].as<std::string>(),
          AppendResult::Stored{row[2].as<std::int64_t>(), row[3].as<std::int64_t>()});
    } else {
      result.failed_streams.insert(row[1].as<std::string>());
    }
  }
  return result;
}

std::unordered_map<std::string, KeyRecord> find_keys(pqxx::connection& conn,
                                                     const std::vector<std::string>& keys) {
  std::unordered_map<std::string, KeyRecord> out;
  if (keys.empty()) return out;
  pqxx::nontransaction tx(conn);
  auto rows = tx.exec_prepared("ws_find_keys", nlohmann::json(keys).dump());
  for (const auto& row : rows) {
    KeyRecord rec;
    rec.endpoint = row[1].as<std::string>();
    rec.request_hash = row[2].as<std::string>();
    rec.response.status = row[3].as<int>();
    rec.response.body = replayed_body(row[4].c_str(), row[5]);
    auto headers = nlohmann::json::parse(row[6].c_str(), nullptr, false);
    if (headers.is_object()) {
      for (auto it = headers.begin(); it != headers.end(); ++it) {
        if (it.value().is_string())
          rec.response.headers.emplace_back(it.key(), it.value().get<std::string>());
      }
    }
    out.emplace(row[0].as<std::string>(), std::move(rec));
  }
  return out;
}

std::int64_t delete_expired_keys(pqxx::connection& conn, std::int64_t max_age_seconds) {
  pqxx::nontransaction tx(conn);
  return static_cast<std::int64_t>(
      tx.exec_prepared("ws_delete_expired_keys", max_age_seconds).affected_rows());
}

std::int64_t outbox_backlog(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  return tx.exec_prepared1("ws_outbox_backlog")[0].as<std::int64_t>();
}

void ping(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  tx.exec_prepared("ws_ping");
}

}  // namespace orders::write_side
