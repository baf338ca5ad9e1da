// The one exception of the NATS wrapper: a failed cnats call (status, JetStream error code, text).
// Nothing in common/nats retries: callers own their retry and back-off policy.
#pragma once
#include <stdexcept>
#include <string>

namespace orders::nats {

struct NatsError : std::runtime_error {
  NatsError(const std::string& what, int status = 0, int js_error_code = 0)
      : std::runtime_error(what), status(status), js_error_code(js_error_code) {}
  int status;         // natsStatus (NATS_OK = 0, NATS_TIMEOUT, NATS_NOT_FOUND, ...)
  int js_error_code;  // jsErrCode from the server (e.g. 10071 wrong last sequence), 0 if none
  bool timeout() const;
  bool not_found() const;  // stream / consumer / message not found
};

// JetStream's "wrong last sequence" (Nats-Expected-Last-Sequence did not match).
inline constexpr int kJsErrWrongLastSequence = 10071;

}  // namespace orders::nats
