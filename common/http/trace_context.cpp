#include "common/http/trace_context.hpp"

#include "common/crypto/random.hpp"

namespace orders::http {

namespace {

constexpr std::size_t kVersion00Size = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is not allowed either
}

// n lower-case hex digits; `nonzero`: not all '0'.
bool lower_hex(std::string_view s, bool nonzero) {
  bool any = false;
  for (char c : s) {
    const int v = hex_value(c);
    if (v < 0) return false;
    any = any || v != 0;
  }
  return any || !nonzero;
}

std::uint64_t nonzero(std::uint64_t (*random)()) {
  const std::uint64_t v = random();
  return v != 0 ? v : 1;
}

}  // namespace

std::string hex16(std::uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[v & 0xF];
    v >>= 4;
  }
  return out;
}

std::optional<Traceparent> parse_traceparent(std::string_view h) {
  if (h.size() < kVersion00Size) return std::nullopt;
  const std::string_view version = h.substr(0, 2);
  if (!lower_hex(version, false) || version == "ff") return std::nullopt;
  if (version == "00" ? h.size() != kVersion00Size
                      : h.size() > kVersion00Size && h[kVersion00Size] != '-') {
    return std::nullopt;
  }
  if (h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  const std::string_view trace_id = h.substr(3, 32);
  const std::string_view parent_id = h.substr(36, 16);
  const std::string_view flags = h.substr(53, 2);
  if (!lower_hex(trace_id, true) || !lower_hex(parent_id, true) || !lower_hex(flags, false)) {
    return std::nullopt;
  }
  Traceparent t;
  t.trace_id = trace_id;
  t.parent_id = parent_id;
  t.flags = static_cast<std::uint8_t>(hex_value(flags[0]) * 16 + hex_value(flags[1]));
  return t;
}

std::string TraceContext::traceparent() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(kVersion00Size);
  out += "00-";
  out += trace_id;
  out += '-';
  out += span_id;
  out += '-';
  out += kHex[flags >> 4];
  out += kHex[flags & 0xF];
  return out;
}

TraceContext continue_trace(const std::optional<Traceparent>& incoming, std::uint64_t (*random)()) {
  TraceContext t;
  if (incoming) {
    t.trace_id = incoming->trace_id;
    t.parent_id = incoming->parent_id;
    t.flags = incoming->flags;
  } else {
    t.trace_id = hex16(nonzero(random)) + hex16(random());
    t.flags = 1;  // sampled: every request is logged with its ids
  }
  t.span_id = hex16(nonzero(random));
  return t;
}

TraceContext trace_context_for(std::optional<std::string_view> header) {
  return continue_trace(header ? parse_traceparent(*header) : std::nullopt, &crypto::random64);
}

}  // namespace orders::http
