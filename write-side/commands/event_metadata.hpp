// The metadata stored with each event of a command (docs/design.md, "Event metadata"): which
// command and request made it and the W3C trace it belongs to. Pure.
#pragma once
#include <string>
#include <string_view>

namespace orders::write_side {

// Where a command came from; an empty field is left out of the metadata.
struct CommandTrace {
  std::string request_id;      // X-Request-Id (the client's or generated)
  std::string trace_id;        // 32 hex digits (common/http/trace_context.hpp)
  std::string span_id;         // the write-side's span of the request, 16 hex digits
  std::string traceparent;     // "00-<trace_id>-<span_id>-<flags>", put on the bus message
  std::string correlation_id;  // X-Correlation-Id when sane, else the trace id
};

// {"command","request_id","trace_id","span_id","traceparent","correlation_id","causation_id"} as
// JSON text. causation_id: what caused this event (the request id for a command's first event,
// the previous event's id for the next ones).
std::string event_metadata(std::string_view command, const CommandTrace& trace,
                           std::string_view causation_id);

}  // namespace orders::write_side
