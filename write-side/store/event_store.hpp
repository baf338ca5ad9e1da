// The Postgres event store as the write-side uses it: prepared statements, loading streams
// (latest snapshot of the current state schema + newer events, upcast on read), the audit trail,
// time travel, and the group-commit append (sql/functions/ws_append_batch.sql). Every function
// takes a connection prepared by prepare_statements (use it as the pool's ConnectionInit).
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/codec/json_text.hpp"
#include "common/codec/recorded_event.hpp"
#include "common/domain/order.hpp"

namespace orders::write_side {

// A stored event that cannot be decoded (unknown type or schema version, malformed payload).
struct CorruptStream : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Prepares every write-side statement on conn (idempotent per connection).
void prepare_statements(pqxx::connection& conn);

// ---- reads ----

// A stream's current state and how many events were folded to reach it (after its snapshot, or
// all of them): the write-side snapshots a stream whose load replayed too many.
struct LoadedStream {
  domain::OrderState state;
  std::int64_t replayed = 0;
};

// Current state of each stream (an order that does not exist: a default OrderState, version 0).
// Uses the latest snapshot with codec::kStateSchemaVersion when there is one.
std::unordered_map<std::string, LoadedStream> load_streams(
    pqxx::connection& conn, const std::vector<std::string>& stream_ids);

// Folds into each state the events stored after its version (a cached state that may be stale);
// `replayed` counts them. Cheaper than load_streams when only a few events are new.
void catch_up_streams(pqxx::connection& conn,
                      std::unordered_map<std::string, LoadedStream>& streams);

// State after event `version` (nullopt when the stream has fewer events, or version < 1).
std::optional<domain::OrderState> state_at_version(pqxx::connection& conn,
                                                   const std::string& stream_id,
                                                   std::int64_t version);
// State after every event recorded at or before at_us (nullopt when none was).
std::optional<domain::OrderState> state_at_time(pqxx::connection& conn,
                                                const std::string& stream_id, std::int64_t at_us);
// Current state, nullopt when the order does not exist.
std::optional<domain::OrderState> current_state(pqxx::connection& conn,
                                                const std::string& stream_id);

// Events with version >= from_version, oldest first, at most limit (data as stored).
std::vector<codec::RecordedEvent> read_events(pqxx::connection& conn, const std::string& stream_id,
                                              std::int64_t from_version, std::int64_t limit);
std::int64_t stream_version(pqxx::connection& conn, const std::string& stream_id);
// The year of the archive partition an order's events were dropped with (write-side
// archive-drop); nullopt when they were not.
std::optional<int> history_dropped_in(pqxx::connection& conn, const std::string& stream_id);

// ---- the group-commit append ----

struct NewEvent {
  std::string event_id;
  std::string stream_id;
  std::int64_t version = 0;
  std::string type;
  int schema_version = 1;
  std::string data;      // JSON text (codec::encode_event_data(...).dump())
  std::string metadata;  // JSON text; empty: {}
};

// Appends s to out as a JSON string literal (quotes and escapes included).
using codec::append_json_string;

struct StoredResponse {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct NewKeyRecord {
  std::string key;
  std::string stream_id;
  std::string endpoint;
  std::string request_hash;
  // Stored as data: status, headers and the body's fields; a "position" field is not stored but
  // taken from last_event_id's event at commit, and put back when the response is replayed.
  StoredResponse response;
  std::optional<std::string> last_event_id;
};

struct NewSnapshot {
  std::string stream_id;
  std::int64_t version = 0;
  nlohmann::json state;  // codec::state_to_snapshot_json
};

struct VersionCheck {
  std::string stream_id;
  std::int64_t base_version = 0;  // the decision saw this version: base_version + 1 must not exist
};

struct AppendResult {
  struct Stored {
    std::int64_t position = 0;
    std::int64_t recorded_at_us = 0;
  };
  std::unordered_map<std::string, Stored> events;  // by event_id, only for committed streams
  std::unordered_set<std::string> failed_streams;  // none of their rows were kept
};

// One statement in autocommit: one transaction, one fsync. Throws pqxx errors.
AppendResult append_batch(pqxx::connection& conn, const std::vector<NewEvent>& events,
                          const std::vector<NewKeyRecord>& keys,
                          const std::vector<NewSnapshot>& snapshots,
                          const std::vector<VersionCheck>& checks);

// ---- idempotency keys ----

struct KeyRecord {
  std::string endpoint;
  std::string request_hash;
  StoredResponse response;  // rendered again from the stored fields: the original bytes
};
std::unordered_map<std::string, KeyRecord> find_keys(pqxx::connection& conn,
                                                     const std::vector<std::string>& keys);
// Deletes keys older than max_age_seconds; returns how many.
std::int64_t delete_expired_keys(pqxx::connection& conn, std::int64_t max_age_seconds);

// ---- misc ----
std::int64_t outbox_backlog(pqxx::connection& conn);
void ping(pqxx::connection& conn);

}  // namespace orders::write_side
