// A small RAII wrapper over cnats 3.4.1 (JetStream), shared by the outbox relay (publisher) and the
// read-side projector (pull consumer). Every failing call throws NatsError (status + JetStream
// error code + text); nothing here retries: callers own their retry/backoff policy.
//
//   auto conn = nats::Connection::connect("nats://127.0.0.1:4222", "relay");
//   nats::JetStream js(conn);
//   nats::StreamSpec spec;  spec.name = "ORDERS";   // subjects default to "orders.events.>"
//   auto info = js.ensure_stream(spec);
//   nats::OutMessage m;  m.subject = "orders.events.3";  m.data = body;  m.msg_id = id;
//   m.expect_last_seq = 41;  js.publish_async(m);
//   for (auto& r : js.wait_async(std::chrono::seconds(5))) { ... r.ok, r.sequence ... }
//
//   nats::ConsumerSpec cs;  cs.stream = "ORDERS";  cs.durable = "orders-p3";
//   cs.filter_subject = "orders.events.3";
//   auto sub = js.pull_subscribe(cs);
//   for (auto& msg : sub.fetch(500, std::chrono::milliseconds(200))) { ...; msg.ack(); }
//
// (Set fields one by one: designated initializers that skip members trip
// -Wmissing-field-initializers under -Werror.)
//
// Lifetimes: a JetStream and its PullSubscriptions must be destroyed before their Connection.
// Thread-safety: Connection and JetStream calls may come from several threads (cnats is
// thread-safe); one PullSubscription should be fetched from one thread at a time.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// Forward declarations of the cnats types (so users need not include <nats/nats.h>).
typedef struct __natsConnection natsConnection;
typedef struct __natsMsg natsMsg;
typedef struct __natsSubscription natsSubscription;
typedef struct __jsCtx jsCtx;

namespace orders::nats {

struct NatsError : std::runtime_error {
  NatsError(const std::string& what, int status, int js_error_code = 0)
      : std::runtime_error(what), status(status), js_error_code(js_error_code) {}
  int status;         // natsStatus (NATS_OK = 0, NATS_TIMEOUT, NATS_NOT_FOUND, ...)
  int js_error_code;  // jsErrCode from the server (e.g. 10071 wrong last sequence), 0 if none
  bool timeout() const;
  bool not_found() const;  // stream / consumer / message not found
};

// ---------------------------------------------------------------------------------- connection
struct ConnectOptions {
  std::string url = "nats://127.0.0.1:4222";  // comma-separated list allowed
  std::string name;                           // connection name shown by the server
  std::chrono::milliseconds connect_timeout{2000};
  // Reconnect after a lost connection: forever (-1) by default, every reconnect_wait.
  int max_reconnect = -1;
  std::chrono::milliseconds reconnect_wait{250};
  std::chrono::milliseconds ping_interval{2000};
  int reconnect_buffer_bytes = 8 * 1024 * 1024;
  // Called from a cnats thread on disconnect (false) and reconnect (true). Keep it short.
  std::function<void(bool connected)> on_connection_change;
};

class Connection {
 public:
  // Throws NatsError when the server cannot be reached now (no background retry of the first
  // connect: the caller retries with backoff). Once connected, reconnects are automatic.
  static Connection connect(const ConnectOptions& options);
  // The defaults above with this url and name (designated initializers of ConnectOptions trip
  // -Wmissing-field-initializers under -Werror).
  static Connection connect(const std::string& url, const std::string& name = "");

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();  // closes and destroys the connection

  bool connected() const;  // status == CONNECTED (false while reconnecting or closed)
  bool closed() const;
  void flush(std::chrono::milliseconds timeout);  // round trip to the server; throws on failure
  // Core NATS publish (no JetStream ack), e.g. for wake-up signals.
  void publish(std::string_view subject, std::string_view data);
  natsConnection* raw() const;

 private:
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ------------------------------------------------------------------------------------- streams
struct StreamSpec {
  std::string name = "ORDERS";
  std::vector<std::string> subjects;  // e.g. {"orders.events.>"}; empty: {"<lower name>.events.>"}
  bool file_storage = true;
  std::chrono::milliseconds duplicate_window{std::chrono::minutes(2)};
  std::int64_t replicas = 1;
};

// "<lowercase name>.events" (the prefix for codec::subject_for) and the stream's subject filter.
std::string subject_prefix_for_stream(std::string_view stream_name);  // "orders.events"
std::string subjects_for_stream(std::string_view stream_name);        // "orders.events.>"

struct StreamInfo {
  std::string name;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;  // 0 when empty
  std::uint64_t msgs = 0;
  std::uint64_t bytes = 0;
  std::int64_t consumers = 0;
};

// --------------------------------------------------------------------------------- publishing
struct OutMessage {
  std::string subject;
  std::string data;
  std::string msg_id;                            // Nats-Msg-Id header ("" = none)
  std::optional<std::uint64_t> expect_last_seq;  // Nats-Expected-Last-Sequence (only when > 0)
};

struct PubResult {
  std::string msg_id;
  bool ok = false;
  std::uint64_t sequence = 0;  // stream sequence when ok
  bool duplicate = false;      // ok but already stored (de-duplicated by msg id)
  int status = 0;              // natsStatus when !ok (NATS_TIMEOUT for a lost ack)
  int js_error_code = 0;       // e.g. 10071 (wrong last sequence) when !ok
  std::string error;
};

inline constexpr int kJsErrWrongLastSequence = 10071;

struct JetStreamOptions {
  std::chrono::milliseconds api_timeout{5000};  // stream info, add/update, consumer calls
  std::int64_t max_pending = 4096;              // async publishes in flight before publish stalls
  std::chrono::milliseconds stall_wait{2000};   // how long publish_async may block when stalled
  std::chrono::milliseconds publish_ack_wait{5000};  // per async message ack deadline
};

// ---------------------------------------------------------------------------------- consuming
class Message {
 public:
  explicit Message(natsMsg* msg);  // takes ownership
  Message(Message&&) noexcept;
  Message& operator=(Message&&) noexcept;
  ~Message();

  std::string_view subject() const;
  std::string_view data() const;
  std::optional<std::string> header(const char* name) const;  // e.g. "Nats-Msg-Id"
  std::uint64_t stream_seq() const;  // JetStream metadata (0 when not a JetStream message)
  std::uint64_t consumer_seq() const;
  std::uint64_t num_delivered() const;
  std::uint64_t num_pending() const;
  std::int64_t timestamp_ns() const;

  void ack();  // async ack; throws NatsError when it cannot be sent
  void ack_sync(std::chrono::milliseconds timeout);  // waits for the server's confirmation
  void nak(std::optional<std::chrono::milliseconds> delay = std::nullopt);
  void in_progress();
  void term();
  natsMsg* raw() const { return msg_; }

 private:
  void load_meta() const;
  natsMsg* msg_ = nullptr;
  struct Meta {
    std::uint64_t stream_seq = 0, consumer_seq = 0, delivered = 0, pending = 0;
    std::int64_t timestamp = 0;
    bool loaded = false;
  };
  mutable Meta meta_;
};

enum class AckPolicy { Explicit, All, None };
enum class DeliverPolicy { All, New, ByStartSequence, Last };

struct ConsumerSpec {
  std::string stream = "ORDERS";
  std::string durable;         // "" = ephemeral (removed when unsubscribed / inactive)
  std::string filter_subject;  // "" = the whole stream
  AckPolicy ack_policy = AckPolicy::Explicit;
  DeliverPolicy deliver_policy = DeliverPolicy::All;
  std::uint64_t start_seq = 0;  // with ByStartSequence
  std::chrono::milliseconds ack_wait{30000};
  std::int64_t max_ack_pending = 20000;
  std::int64_t max_deliver = -1;  // -1 = unlimited
};

class PullSubscription {
 public:
  PullSubscription(PullSubscription&&) noexcept;
  PullSubscription& operator=(PullSubscription&&) noexcept;
  ~PullSubscription();  // unsubscribes locally; a durable consumer stays on the server

  // Up to `batch` messages, waiting at most `timeout` for the first. Empty on time-out (not an
  // error). Throws NatsError on other failures (e.g. connection closed, consumer deleted).
  std::vector<Message> fetch(int batch, std::chrono::milliseconds timeout);
  // Like fetch but returns as soon as the server has nothing more (no waiting for a full batch).
  std::vector<Message> fetch_no_wait(int batch, std::chrono::milliseconds timeout);
  void unsubscribe();  // also deletes an ephemeral consumer
  natsSubscription* raw() const;

 private:
  friend class JetStream;
  struct Impl;
  explicit PullSubscription(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// --------------------------------------------------------------------------------- JetStream
class JetStream {
 public:
  JetStream(Connection& conn, const JetStreamOptions& options = {});
  JetStream(JetStream&&) noexcept;
  JetStream& operator=(JetStream&&) noexcept;
  ~JetStream();  // discards async publishes still pending

  // Creates the stream, or updates it when its subjects / duplicate window differ.
  StreamInfo ensure_stream(const StreamSpec& spec);
  std::optional<StreamInfo> stream_info(const std::string& stream);  // nullopt when not found
  void delete_stream(const std::string& stream);  // tests / admin; no error when missing

  // Synchronous publish; returns the ack (or a failed PubResult; throws only on a local error).
  PubResult publish(const OutMessage& msg);
  // Queues one asynchronous publish (at most max_pending in flight; blocks up to stall_wait
  // when full, then throws NatsError with a timeout status). Results come from wait_async.
  void publish_async(const OutMessage& msg);
  // Waits until every queued async publish has an ack or an error, up to `timeout`. Publishes
  // still without an answer at the deadline are abandoned and reported as failed (status
  // NATS_TIMEOUT). Returns the results in the order they completed and clears them.
  std::vector<PubResult> wait_async(std::chrono::milliseconds timeout);
  std::int64_t async_pending() const;  // queued and not yet answered

  // Pull consumer: creates or binds the consumer (durable: created if missing, else bound).
  PullSubscription pull_subscribe(const ConsumerSpec& spec);
  void delete_consumer(const std::string& stream,
                       const std::string& consumer);  // no error if missing
  // Stored message at a stream sequence (direct read, no consumer).
  std::optional<Message> get_message(const std::string& stream, std::uint64_t seq);

  jsCtx* raw() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orders::nats
