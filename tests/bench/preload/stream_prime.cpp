#include "tests/bench/preload/stream_prime.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

#include <nats/nats.h>

#include "common/codec/bus_envelope.hpp"
#include "common/nats/connection.hpp"
#include "common/nats/publisher.hpp"
#include "common/nats/stream_admin.hpp"

namespace orders::bench {

namespace {

// The head event in the relay's column order (sql/functions/relay_step.sql).
constexpr const char* kHeadSql = R"SQL(
SELECT e.event_id::text, e.stream_id, e.version, e.position, g.global_position, e.type,
       e.schema_version, (extract(epoch FROM e.recorded_at) * 1000000)::bigint, e.data::text,
       e.metadata::text
  FROM global_log g JOIN events e ON e.position = g.position
 ORDER BY g.global_position DESC LIMIT 1
)SQL";

// The stream's config while it is filled: at most one message kept (the fillers cost no disk).
// nats-server 2.9 has no first_seq in a stream's config and a purge cannot move the sequence
// past the last message, so the sequence is advanced by publishing fillers.
void set_stream(nats::StreamAdmin& admin, const std::string& stream, std::int64_t max_msgs,
                bool create) {
  const std::string subject = codec::stream_subject_filter(stream);
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = stream.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Duplicates = 120LL * 1000 * 1000 * 1000;
  cfg.MaxMsgs = max_msgs;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = create ? js_AddStream(&si, admin.raw(), &cfg, nullptr, &jerr)
                              : js_UpdateStream(&si, admin.raw(), &cfg, nullptr, &jerr);
  if (si != nullptr) jsStreamInfo_Destroy(si);
  if (s != NATS_OK) {
    throw std::runtime_error("prime_stream: " + std::string(create ? "add" : "update") +
                             " stream failed: " + natsStatus_GetText(s) + " (js error " +
                             std::to_string(static_cast<int>(jerr)) + ")");
  }
}

// Publishes fillers until the stream's last sequence is `last` (core NATS, acks not awaited;
// then waits for the server to have stored them all).
void fill_to(nats::Connection& conn, nats::StreamAdmin& admin, const std::string& stream,
             std::uint64_t last) {
  const std::string subject = codec::stream_subject_prefix(stream) + ".preload-filler";
  for (std::uint64_t i = 1; i <= last; ++i) {
    conn.publish(subject, "{}");
    if (i % 200000 == 0) conn.flush(std::chrono::seconds(30));
  }
  conn.flush(std::chrono::seconds(30));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while (true) {
    const auto info = admin.stream_info(stream);
    if (info && info->last_seq >= last) {
      if (info->last_seq != last)
        throw std::runtime_error("prime_stream: stream overshot to " +
                                 std::to_string(info->last_seq));
      return;
    }
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("prime_stream: the stream did not reach " + std::to_string(last));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval, not a sync
  }
}

}  // namespace

void prime_stream(const std::string& nats_url, const std::string& stream, pqxx::connection& db) {
  pqxx::result head;
  {
    pqxx::read_transaction tx(db);
    head = tx.exec(kHeadSql);
  }
  if (head.empty()) return;  // nothing preloaded: the stream starts at 1 as usual
  const auto& row = head[0];
  codec::WireFields f;
  f.event_id = row[0].c_str();
  f.stream_id = row[1].c_str();
  f.version = row[2].as<std::int64_t>();
  f.position = row[3].as<std::int64_t>();
  f.global_position = row[4].as<std::int64_t>();
  f.type = row[5].c_str();
  f.schema_version = row[6].as<std::int64_t>();
  f.recorded_at_us = row[7].as<std::int64_t>();
  f.data_json = row[8].c_str();
  f.metadata_json = row[9].c_str();
  const auto gp = static_cast<std::uint64_t>(*f.global_position);

  auto conn = nats::Connection::connect(nats_url, "bench-preload");
  nats::StreamAdmin admin(conn);
  if (const auto info = admin.stream_info(stream); info && info->last_seq != 0) {
    throw std::runtime_error("prime_stream: stream " + stream + " is not empty (last sequence " +
                             std::to_string(info->last_seq) + ")");
  }
  set_stream(admin, stream, 1, true);
  fill_to(conn, admin, stream, gp - 1);
  nats::OutMessage m;
  m.subject = codec::subject_for(stream, f.stream_id);
  codec::write_wire_json(m.data, f);
  codec::write_bus_headers(m.headers, f);
  m.msg_id = f.event_id;
  if (gp > 1) m.expect_last_seq = gp - 1;
  nats::Publisher pub(conn);
  const auto r = pub.publish(m);
  if (!r.ok || r.sequence != gp) {
    throw std::runtime_error("prime_stream: the head event was stored at sequence " +
                             std::to_string(r.sequence) + ", not " + std::to_string(gp) + ": " +
                             r.error);
  }
  set_stream(admin, stream, -1, false);  // the relay sets its own limits when it starts
}

}  // namespace orders::bench
