// The JetStream side of a preload: the stream brought to the database's global head as if the
// relay had published every preloaded event long ago and retention had dropped all but the last:
// its sequence is advanced to the head with throw-away fillers (kept one at a time) and its one
// message is the head event exactly as the relay publishes it (envelope, CloudEvents headers,
// Nats-Msg-Id). The relay
// then resyncs at the head (its check of the last message passes) and publishes from head + 1;
// projectors whose checkpoints are at the head consume from head + 1.
#pragma once
#include <cstdint>
#include <string>

#include <pqxx/pqxx>

namespace orders::bench {

// Creates the stream if missing (default settings; the relay adjusts its limits when it starts).
// Throws when the stream already holds messages or the publish is not stored at the head.
void prime_stream(const std::string& nats_url, const std::string& stream, pqxx::connection& db);

}  // namespace orders::bench
