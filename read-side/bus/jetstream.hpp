// A small RAII wrapper over the NATS C client (cnats) for what the projector needs: one connection
// that reconnects forever, a durable pull consumer per partition (AckAll, in generations, see
// PullConsumer), fetch, ack and nak.
//
// The pull consumer keeps a credit window open instead of one request/reply per fetch: a pull
// request for `batch` messages (with an expiry) stays outstanding on the server, which pushes
// messages to this consumer's own inbox as they are stored; fetch takes whatever has arrived
// (waiting only for the first message) and sends the next request once the batch has arrived, the
// request expired (408), or a reconnect lost it. Requests have their own reply subjects
// (<inbox>.<id>), so a status reply retires exactly the request it belongs to.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct __natsConnection;
struct __natsSubscription;
struct __natsMsg;
struct __jsCtx;

namespace orders::read_side::bus {

struct NatsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Connection {
 public:
  // Connects in the background when the server is not up yet; reconnects forever.
  Connection(const std::string& url, std::string stream);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool connected() const;
  const std::string& stream() const { return stream_; }
  std::string subject_prefix() const;  // lower-case stream name: "orders"
  __jsCtx* js() const { return js_; }
  __natsConnection* raw() const { return nc_; }

  // Unsubscribes `sub` now and destroys it once the connection's reader thread cannot be using it
  // any more: cnats up to 3.5 (Debian 12 has 3.4) looks a message's subscription up and then
  // locks it without holding a reference, so destroying a subscription that a message is
  // arriving for crashes the process (nats.c#637, fixed by PR #638 in 2023). A flush round trip
  // returns only after the reader has moved past everything that came before its PONG; without
  // one (disconnected) the subscription waits for the next successful flush or for the
  // connection's end.
  void retire(__natsSubscription* sub);

 private:
  void destroy_retired(std::uint64_t up_to);

  std::string stream_;
  __natsConnection* nc_ = nullptr;
  __jsCtx* js_ = nullptr;
  std::mutex retired_mu_;
  std::uint64_t retired_count_ = 0;
  // Unsubscribed, waiting for a flush sent after their unsubscribe: (retired_count_ then, sub).
  std::vector<std::pair<std::uint64_t, __natsSubscription*>> retired_;
};

class Message {
 public:
  explicit Message(
      __natsMsg* m);  // takes ownership; reads the stream sequence from the ack subject
  Message(__natsMsg* m, std::uint64_t stream_seq);  // takes ownership; sequence already known
  Message(Message&&) noexcept;
  Message& operator=(Message&&) noexcept;
  ~Message();
  std::string_view data() const;
  std::uint64_t stream_sequence() const { return stream_seq_; }
  __natsMsg* raw() const { return msg_; }

 private:
  __natsMsg* msg_ = nullptr;
  std::uint64_t stream_seq_ = 0;
};

struct ConsumerOptions {
  std::string durable;         // "read_side_p7": consumers are named "read_side_p7_a<generation>"
  std::string filter_subject;  // "orders.events.7"
  std::chrono::milliseconds ack_wait{5000};
  int max_ack_pending = 20000;
};

// One partition's durable pull consumer with AckAll: an ack covers the whole batch. Generations
// "<durable>_a<n>": each bind (construction, after a nak, after a reconnect, after the consumer
// was deleted) creates the next one at the newest one's ack floor and deletes the older ones, so
// everything not yet acked comes to the binder in stream order (see bind() in the .cpp).
class PullConsumer {
 public:
  // Binds (see above). Throws NatsError (e.g. stream missing, NATS down, a racing bind).
  PullConsumer(Connection& conn, ConsumerOptions options);
  ~PullConsumer();
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

 private:
  struct Window;
  void bind();
  Connection& conn_;
  ConsumerOptions options_;
  __natsSubscription* sub_ = nullptr;
  std::unique_ptr<Window> window_;
};

}  // namespace orders::read_side::bus
