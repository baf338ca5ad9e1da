// Helpers for the relay tests: a migrated database, SQL writers that append events + outbox rows
// the way the write-side does (one transaction), and a JetStream reader.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace orders::relay_test {

// A new database on shared_pg() with every migration applied; returns its URL.
std::string migrated_database(const std::string& hint);

struct Appended {
  std::string event_id;
  std::string stream_id;
  std::int64_t version = 0;
};

// One transaction on `conn`: for each stream in turn, reads its last version and appends one
// event (version + 1) with its outbox row; `pause` is slept after each append (fault injection:
// it widens the window in which transactions overlap). Commits unless `rollback`.
// Throws pqxx::unique_violation when a concurrent writer took the version (caller retries).
std::vector<Appended> append_tx(pqxx::connection& conn, const std::vector<std::string>& streams,
                                std::chrono::microseconds pause, bool rollback = false);

// One transaction appending n events spread over `orders` orders (versions continue each order).
std::vector<Appended> bulk_append(const std::string& url, int n, int orders);

// Thread-safe record of committed events.
class Ledger {
 public:
  void add(const std::vector<Appended>& events);
  std::vector<Appended> all() const;
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<Appended> events_;
};

struct StreamMsg {
  std::uint64_t seq = 0;
  std::string msg_id;
  nlohmann::json body;
};

// Every message of the stream, read with an ephemeral pull consumer, in stream order.
std::vector<StreamMsg> read_stream(const std::string& nats_url, const std::string& stream,
                                   std::chrono::milliseconds deadline = std::chrono::seconds(30));
// Stream message count (0 when the stream does not exist).
std::uint64_t stream_msgs(const std::string& nats_url, const std::string& stream);

// Checks guarantee 4 end to end: the stream holds exactly the committed events, each once, at
// sequences 1..N, with body.global_position == sequence, and each order's versions in order.
// Returns "" when all holds, else a description of the first problem.
std::string verify_stream(const std::vector<StreamMsg>& msgs,
                          const std::vector<Appended>& committed);

}  // namespace orders::relay_test
