// Internal to common/nats: turning cnats statuses into NatsError, and durations into cnats units.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include <nats/nats.h>

#include "common/nats/error.hpp"

namespace orders::nats::detail {

inline std::string describe(const std::string& what, natsStatus s,
                            jsErrCode code = static_cast<jsErrCode>(0)) {
  std::string text = what + ": " + natsStatus_GetText(s);
  if (code != 0) text += " (jetstream error " + std::to_string(static_cast<int>(code)) + ")";
  return text;
}

[[noreturn]] inline void fail(const std::string& what, natsStatus s,
                              jsErrCode code = static_cast<jsErrCode>(0)) {
  throw NatsError(describe(what, s, code), static_cast<int>(s), static_cast<int>(code));
}

inline void check(natsStatus s, const std::string& what,
                  jsErrCode code = static_cast<jsErrCode>(0)) {
  if (s != NATS_OK) fail(what, s, code);
}

inline std::int64_t ms(std::chrono::milliseconds d) {
  return static_cast<std::int64_t>(d.count());
}
inline std::int64_t ns(std::chrono::milliseconds d) {
  return static_cast<std::int64_t>(d.count()) * 1000000;
}

}  // namespace orders::nats::detail
