#include "common/nats/error.hpp"

#include <nats/nats.h>

namespace orders::nats {

bool NatsError::timeout() const {
  return status == NATS_TIMEOUT;
}
bool NatsError::not_found() const {
  return status == NATS_NOT_FOUND || js_error_code == JSStreamNotFoundErr ||
         js_error_code == JSConsumerNotFoundErr;
}

}  // namespace orders::nats
