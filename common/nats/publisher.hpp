// JetStream publishing on one Connection: synchronous, or asynchronous with the acks collected by
// wait_async. Each message may carry Nats-Msg-Id (de-duplication), Nats-Expected-Last-Sequence
// (the relay's order guarantee) and headers of its own (CloudEvents, traceparent). One thread
// publishes; acks arrive on a cnats thread.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/nats/connection.hpp"

typedef struct __jsCtx jsCtx;

namespace orders::nats {

struct OutMessage {
  std::string subject;
  std::string data;
  std::string msg_id;                            // Nats-Msg-Id header ("" = none)
  std::optional<std::uint64_t> expect_last_seq;  // Nats-Expected-Last-Sequence (only when > 0)
  std::vector<std::pair<std::string, std::string>> headers;  // any others, (name, value)
};

struct PubResult {
  std::string msg_id;
  bool ok = false;
  std::uint64_t sequence = 0;  // stream sequence when ok
  bool duplicate = false;      // ok but already stored (de-duplicated by msg id)
  int status = 0;              // natsStatus when !ok (NATS_TIMEOUT for a lost ack)
  int js_error_code = 0;       // e.g. kJsErrWrongLastSequence when !ok
  std::string error;
};

struct PublisherOptions {
  std::chrono::milliseconds api_timeout{5000};
  std::int64_t max_pending = 4096;             // async publishes in flight before publish stalls
  std::chrono::milliseconds stall_wait{2000};  // how long publish_async may block when stalled
  std::chrono::milliseconds publish_ack_wait{5000};  // per message ack deadline
};

class Publisher {
 public:
  explicit Publisher(Connection& conn, const PublisherOptions& options = {});
  Publisher(Publisher&&) noexcept;
  Publisher& operator=(Publisher&&) noexcept;
  ~Publisher();  // discards async publishes still pending

  // Synchronous publish; returns the ack (or a failed PubResult; throws only on a local error).
  PubResult publish(const OutMessage& msg);
  // Queues one asynchronous publish (blocks up to stall_wait when max_pending are in flight,
  // then throws NatsError with a timeout status). Results come from wait_async.
  void publish_async(const OutMessage& msg);
  // Waits until every queued async publish has an ack or an error, up to `timeout`. Those still
  // unanswered at the deadline are abandoned and reported failed (status NATS_TIMEOUT). Returns
  // the results in the order they completed and clears them.
  std::vector<PubResult> wait_async(std::chrono::milliseconds timeout);
  std::int64_t async_pending() const;  // queued and not yet answered

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orders::nats
