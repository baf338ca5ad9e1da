// Test-only JetStream reading: a cnats pull subscription (js_PullSubscribe) on an ephemeral or
// durable consumer with explicit or no acks, for tests that read a stream back or play an
// explicit-ack consumer of earlier versions. The projector's consumer is nats::PullConsumer.
#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "common/nats/message.hpp"
#include "common/nats/stream_admin.hpp"

namespace orders::testing {

struct ReaderSpec {
  std::string stream = "ORDERS";
  std::string durable;         // "" = ephemeral
  std::string filter_subject;  // "" = the whole stream
  bool explicit_ack = false;   // false: AckNone
};

class NatsReader {
 public:
  NatsReader(nats::StreamAdmin& admin, const ReaderSpec& spec);
  ~NatsReader();
  NatsReader(const NatsReader&) = delete;
  NatsReader& operator=(const NatsReader&) = delete;

  // Up to `batch` messages, waiting at most `timeout`; empty on time-out. Throws NatsError.
  std::vector<nats::Message> fetch(int batch, std::chrono::milliseconds timeout);

 private:
  natsSubscription* sub_ = nullptr;
};

}  // namespace orders::testing
