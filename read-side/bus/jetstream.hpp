// A small RAII wrapper over the NATS C client (cnats) for what the projector needs: one connection
// that reconnects forever, a durable pull consumer per partition (created if missing, then bound,
// so closing the subscription never deletes it), fetch, ack and nak.
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
  explicit Message(__natsMsg* m);
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

  // Up to `batch` messages; empty on time-out. Throws NatsError on other failures.
  std::vector<Message> fetch(int batch, std::chrono::milliseconds timeout);
  // Acknowledges each message (explicit acks: with AckAll, acking a later message would also ack
  // messages another replica fetched and never applied before it died).
  void ack(const std::vector<Message>& msgs);
  // Asks for redelivery now (best effort).
  void nak(const std::vector<Message>& msgs);

 private:
  Connection& conn_;
  ConsumerOptions options_;
  __natsSubscription* sub_ = nullptr;
};

}  // namespace orders::read_side::bus
