// A small RAII wrapper over the NATS C client (cnats) for what the projector needs: one connection
// that reconnects forever, a durable pull consumer per partition (created if missing, never deleted
// by closing), fetch, ack and nak.
//
// The pull consumer keeps a credit window open instead of one request/reply per fetch: pull
// requests for `batch` messages (with an expiry) stay outstanding on the server, which pushes
// messages to this consumer's own inbox as they are stored; fetch takes whatever has arrived
// (waiting only for the first message) and tops the window up when fewer than half of its
// credits remain. Each request has its own reply subject (<inbox>.<id>), so credits are counted
// exactly per request and a request's 408 (expired) / 409 status retires just that request.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
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

 private:
  std::string stream_;
  __natsConnection* nc_ = nullptr;
  __jsCtx* js_ = nullptr;
};

class Message {
 public:
  explicit Message(__natsMsg* m);  // takes ownership; reads the stream sequence from the ack subject
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
  std::string durable;        // "read_side_p7"
  std::string filter_subject; // "orders.events.7"
  std::chrono::milliseconds ack_wait{5000};
  int max_ack_pending = 20000;
};

class PullConsumer {
 public:
  // Creates the durable consumer when missing (explicit acks, deliver all) and binds to it. Throws
  // NatsError (e.g. stream missing, NATS down).
  PullConsumer(Connection& conn, ConsumerOptions options);
  ~PullConsumer();
  PullConsumer(const PullConsumer&) = delete;
  PullConsumer& operator=(const PullConsumer&) = delete;

  // Up to `batch` messages, in stream order; waits up to `timeout` for the first one only (empty
  // on time-out). Throws NatsError on other failures (e.g. the consumer was deleted).
  std::vector<Message> fetch(int batch, std::chrono::milliseconds timeout);
  // Acknowledges each message (explicit acks: with AckAll, acking a later message would also ack
  // messages another replica fetched and never applied before it died). Published without a
  // flush (cnats' flusher sends it).
  void ack(const std::vector<Message>& msgs);
  // Asks for redelivery now (best effort). Messages of the window that arrive after these and
  // before their redelivery are nak'ed too, so the next fetches see the batch again first, in order.
  void nak(const std::vector<Message>& msgs);

  // Pull requests published so far (for tests and metrics).
  std::uint64_t pull_requests() const;

 private:
  struct Window;
  Connection& conn_;
  ConsumerOptions options_;
  __natsSubscription* sub_ = nullptr;
  std::unique_ptr<Window> window_;
};

}  // namespace orders::read_side::bus
