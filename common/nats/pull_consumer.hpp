// One partition's durable JetStream pull consumer with AckAll (the projector's): a credit window
// instead of one request/reply per fetch, and consumer generations "<durable>_a<n>_<nonce>".
//
// Credit window: a pull request for `batch` messages (with an expiry) stays outstanding on the
// server, which pushes messages to this consumer's own inbox as they are stored; fetch takes what
// has arrived (waiting only for the first message) and sends the next request once the batch has
// arrived, the request expired (408), or a reconnect lost it.
// Generations: each bind (construction, after a nak, after a reconnect, after the consumer was
// deleted, after a gap in the deliveries' consumer sequence) creates the next generation at the
// newest one's ack floor and deletes the older ones, so everything not yet acked comes to the
// binder in stream order (see bind() in the .cpp).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/nats/connection.hpp"
#include "common/nats/message.hpp"
#include "common/nats/stream_admin.hpp"

namespace orders::nats {

struct ConsumerOptions {
  std::string stream = "ORDERS";
  std::string durable;         // "read_side_p7": generations are "read_side_p7_a<n>_<nonce>"
  std::string filter_subject;  // codec::partition_subject(stream, 7): "orders.events.7"
  std::chrono::milliseconds ack_wait{5000};
  int max_ack_pending = 20000;
  // When set: the stream sequence up to which everything of this consumer is applied (the
  // projector's checkpoint), read at each bind. A new generation then starts right after it
  // instead of at the old generations' ack floors, whose reading needs their leaders (after a
  // lost nats-server: a Raft election, or a request that never gets an answer). May throw.
  std::function<std::uint64_t()> applied_upto;
  // Replicas of each generation (0: the stream's). 1 with applied_upto: the consumer's state
  // needs no Raft group of its own (no election after a lost nats-server, no group stalled
  // without quorum); if its server is lost, the next generation starts after applied_upto.
  int replicas = 0;
  // Requests answered "no responders" for this long: the consumer is taken for gone and bound
  // anew (a replicated consumer's election takes 4-9 s; an R1 consumer's server may be lost).
  std::chrono::milliseconds rebind_after_no_responders{15000};
  // Nothing at all from the consumer (no delivery, no 408 for an expired request) for this
  // long: it is taken for gone and bound anew. In a cluster a request for a consumer that lived
  // on a lost server gets no 503 (every server's JetStream API subscription takes it) and no
  // answer: silence is the only sign. Requests expire every 2 s, so a live consumer is heard.
  std::chrono::milliseconds rebind_after_silence{15000};
  // Time-out of the JetStream API requests of a bind (list, create, delete generations).
  std::chrono::milliseconds api_timeout{5000};
  // Old generations are deleted without waiting for the answer: one placed on a lost server
  // answers nothing (each delete would take api_timeout); the caller fences a previous owner
  // by other means (the projector: the partition's lock).
  bool async_deletes = false;
};

class PullConsumer {
 public:
  // Binds (see above). Throws NatsError (e.g. stream missing, NATS down, a racing bind).
  PullConsumer(Connection& conn, ConsumerOptions options);
  ~PullConsumer();  // the consumer stays on the server for the next owner
  PullConsumer(const PullConsumer&) = delete;
  PullConsumer& operator=(const PullConsumer&) = delete;

  // Up to `batch` messages, in stream order; waits up to `timeout` for the first one only (empty
  // on time-out). Throws NatsError on other failures (e.g. the consumer was deleted: the next
  // fetch binds anew).
  std::vector<Message> fetch(int batch, std::chrono::milliseconds timeout);
  // Acknowledges the batch and everything fetched before it: call after it was applied, in
  // fetch order. One ack (the batch's highest sequence), published without a flush.
  void ack(const std::vector<Message>& msgs);
  // The batch and everything after it come again, in order, from the next fetch on (a new
  // generation at the ack floor; no traffic now).
  void nak(const std::vector<Message>& msgs);

  // Pull requests published so far and the consumer generation bound (for tests and logs).
  std::uint64_t pull_requests() const;
  const std::string& consumer_name() const;
  // Deliveries whose consumer sequence did not follow the previous one's (each one made the next
  // fetch start a new generation at the ack floor): deliveries lost in a leader change.
  std::uint64_t delivery_gaps() const;

 private:
  struct Window;
  void bind();
  bool reconnected();
  void top_up(int batch, std::chrono::steady_clock::time_point now);
  bool next(std::chrono::milliseconds wait, std::vector<Message>& out);
  void take(natsMsg* raw, std::vector<Message>& out);
  void no_leader();

  Connection& conn_;
  StreamAdmin admin_;
  ConsumerOptions options_;
  natsSubscription* sub_ = nullptr;
  std::unique_ptr<Window> window_;
};

}  // namespace orders::nats
