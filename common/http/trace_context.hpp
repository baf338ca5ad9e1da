// W3C Trace Context (https://www.w3.org/TR/trace-context/) for one request: the `traceparent`
// header is parsed when valid, else ignored (never a 400: the spec says to start a new trace),
// and the request gets a span of its own. No tracing SDK: the ids are propagated (event metadata,
// bus headers, the response) and logged.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orders::http {

// A valid incoming traceparent: "<version>-<trace-id>-<parent-id>-<trace-flags>".
struct Traceparent {
  std::string trace_id;   // 32 lower-case hex digits, not all zero
  std::string parent_id;  // 16 lower-case hex digits, not all zero: the caller's span
  std::uint8_t flags = 0;
};

// Version 00 is exactly 55 characters; a higher version (not ff) may be longer, with a '-' after
// the first 55 (its extra fields are ignored). Anything else, upper-case hex included: nullopt.
std::optional<Traceparent> parse_traceparent(std::string_view header);

// The trace a request belongs to and the span the server opens for it.
struct TraceContext {
  std::string trace_id;   // the caller's, or new
  std::string span_id;    // new for every request: this service's span
  std::string parent_id;  // the caller's span; "" when the trace was started here
  std::uint8_t flags = 1;

  // "00-<trace_id>-<span_id>-<flags>": what is propagated downstream and echoed to the client.
  std::string traceparent() const;
};

// Continues `incoming` (or starts a trace when it is missing or malformed) with a new span id.
// The ids come from `random` (two numbers for a trace id, one for a span id; a zero draw is
// replaced, an all-zero id being invalid): pure, for tests.
TraceContext continue_trace(const std::optional<Traceparent>& incoming, std::uint64_t (*random)());
// The same from the header text, with ids from the kernel CSPRNG (common/crypto/random.hpp).
TraceContext trace_context_for(std::optional<std::string_view> traceparent_header);

// Lower-case hex of `v`, 16 digits.
std::string hex16(std::uint64_t v);

}  // namespace orders::http
