#include "write-side/commands/event_metadata.hpp"

#include "common/codec/json_text.hpp"

namespace orders::write_side {

namespace {

void member(std::string& out, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  out += ",\"";
  out += key;
  out += "\":";
  codec::append_json_string(out, value);
}

}  // namespace

std::string event_metadata(std::string_view command, const CommandTrace& trace,
                           std::string_view causation_id) {
  std::string out = "{\"command\":";
  codec::append_json_string(out, command);
  member(out, "request_id", trace.request_id);
  member(out, "trace_id", trace.trace_id);
  member(out, "span_id", trace.span_id);
  member(out, "traceparent", trace.traceparent);
  member(out, "correlation_id", trace.correlation_id);
  member(out, "causation_id", causation_id);
  out += '}';
  return out;
}

}  // namespace orders::write_side
