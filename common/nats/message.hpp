// A received NATS message (owning its natsMsg): body, headers and its JetStream stream sequence.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

typedef struct __natsMsg natsMsg;

namespace orders::nats {

class Message {
 public:
  // Takes ownership. The stream sequence comes from a JetStream delivery's ack subject, or from
  // the message itself when it was read directly (StreamAdmin::get_message); 0 for anything else
  // (e.g. a pull request's status reply).
  explicit Message(natsMsg* msg);
  Message(Message&&) noexcept;
  Message& operator=(Message&&) noexcept;
  ~Message();

  std::string_view subject() const;
  std::string_view data() const;
  std::optional<std::string> header(const char* name) const;  // e.g. "Nats-Msg-Id"
  std::uint64_t stream_sequence() const { return stream_seq_; }
  // A JetStream delivery's consumer sequence: 1, 2, 3, ... for every delivery (redeliveries too)
  // of one consumer, so a jump means deliveries that never arrived. 0 when not a delivery.
  std::uint64_t delivery_sequence() const { return delivery_seq_; }
  // Explicit-ack consumers only: acks and waits for the server's confirmation.
  void ack_sync(std::chrono::milliseconds timeout);
  natsMsg* raw() const { return msg_; }

 private:
  natsMsg* msg_ = nullptr;
  std::uint64_t stream_seq_ = 0;
  std::uint64_t delivery_seq_ = 0;
};

}  // namespace orders::nats
