#include "common/codec/bus_envelope.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include "common/codec/json_text.hpp"

namespace orders::codec {

using nlohmann::json;

std::string stream_subject_prefix(std::string_view stream) {
  std::string s(stream);
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s + ".events";
}

std::string stream_subject_filter(std::string_view stream) {
  return stream_subject_prefix(stream) + ".>";
}

std::string partition_subject(std::string_view stream, int partition) {
  return stream_subject_prefix(stream) + "." + std::to_string(partition);
}

std::string subject_for(std::string_view stream, std::string_view order_id) {
  return partition_subject(stream, partition_of(order_id));
}

namespace {

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

}  // namespace

void write_wire_json(std::string& out, const WireFields& f) {
  out.clear();
  out += "{\"event_id\":";
  append_json_string(out, f.event_id);
  out += ",\"stream_id\":";
  append_json_string(out, f.stream_id);
  out += ",\"version\":";
  append_int(out, f.version);
  out += ",\"position\":";
  append_int(out, f.position);
  out += ",\"global_position\":";
  if (f.global_position) {
    append_int(out, *f.global_position);
  } else {
    out += "null";
  }
  out += ",\"type\":";
  append_json_string(out, f.type);
  out += ",\"schema_version\":";
  append_int(out, f.schema_version);
  out += ",\"recorded_at_us\":";
  append_int(out, f.recorded_at_us);
  out += ",\"data\":";
  out += f.data_json;
  out += ",\"metadata\":";
  out += f.metadata_json;
  out += '}';
}

std::string_view metadata_string(std::string_view m, std::string_view key) {
  for (std::size_t at = m.find(key); at != std::string_view::npos; at = m.find(key, at + 1)) {
    const std::size_t end = at + key.size();
    if (at == 0 || m[at - 1] != '"' || end >= m.size() || m[end] != '"') continue;
    std::size_t i = end + 1;
    const auto skip_ws = [&] {
      while (i < m.size() && (m[i] == ' ' || m[i] == '\n' || m[i] == '\r' || m[i] == '\t')) ++i;
    };
    skip_ws();
    if (i >= m.size() || m[i] != ':') continue;  // a value equal to the key, not the key
    ++i;
    skip_ws();
    if (i >= m.size() || m[i] != '"') return {};
    const std::size_t from = ++i;
    while (i < m.size() && m[i] != '"') {
      if (m[i] == '\\') return {};
      ++i;
    }
    if (i >= m.size()) return {};
    return m.substr(from, i - from);
  }
  return {};
}

namespace {

// "00-<32 hex>-<16 hex>-<2 hex>" in shape (the write-side wrote it; this only keeps anything
// else, which could break the header block, off the message).
bool traceparent_shaped(std::string_view t) {
  if (t.size() != 55) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    const bool dash = i == 2 || i == 35 || i == 52;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void set_header(BusHeaders& out, std::size_t i, std::string_view name, std::string_view value) {
  if (out.size() <= i) out.resize(i + 1);
  auto& [n, v] = out[i];
  if (n != name) n.assign(name);
  v.assign(value);
}

}  // namespace

void write_bus_headers(BusHeaders& out, const WireFields& f) {
  std::size_t n = 0;
  set_header(out, n++, "ce-specversion", "1.0");
  set_header(out, n++, "ce-id", f.event_id);
  set_header(out, n++, "ce-source", kCloudEventsSource);
  set_header(out, n, "ce-type", kCloudEventsTypePrefix);
  out[n++].second.append(f.type);
  set_header(out, n++, "ce-subject", f.stream_id);
  set_header(out, n, "ce-time", {});
  append_rfc3339_us(out[n++].second, f.recorded_at_us);
  set_header(out, n++, "content-type", "application/json");
  const std::string_view traceparent = metadata_string(f.metadata_json, "traceparent");
  if (traceparent_shaped(traceparent)) set_header(out, n++, "traceparent", traceparent);
  out.resize(n);
}

std::string wire_json(const RecordedEvent& e) {
  const std::string data = e.data.dump();
  const std::string metadata = e.metadata.dump();
  WireFields f;
  f.event_id = e.event_id;
  f.stream_id = e.stream_id;
  f.version = e.version;
  f.position = e.position;
  f.global_position = e.global_position;
  f.type = e.type;
  f.schema_version = e.schema_version;
  f.recorded_at_us = e.recorded_at_us;
  f.data_json = data;
  f.metadata_json = metadata;
  std::string out;
  write_wire_json(out, f);
  return out;
}

json to_wire_json(const RecordedEvent& e) {
  json j = {{"event_id", e.event_id},
            {"stream_id", e.stream_id},
            {"version", e.version},
            {"position", e.position},
            {"type", e.type},
            {"schema_version", e.schema_version},
            {"recorded_at_us", e.recorded_at_us},
            {"data", e.data},
            {"metadata", e.metadata}};
  j["global_position"] = e.global_position ? json(*e.global_position) : json(nullptr);
  return j;
}

namespace {

// The projector decodes every bus message: a full DOM parse of the envelope was over a third of
// its CPU. This scanner reads the envelope as the relay writes it (a flat object of known keys:
// strings of printable ASCII without escapes, integers, null, and the data / metadata objects,
// which alone go through the JSON parser) and gives up (nullopt) on anything else, for the full
// parse to decide: same result for every input, the fast way for the usual one.
class WireScanner {
 public:
  explicit WireScanner(std::string_view b) : b_(b) {}

  std::optional<RecordedEvent> scan() {
    RecordedEvent e;
    unsigned seen = 0;
    ws();
    if (!take('{')) return std::nullopt;
    ws();
    if (peek() == '}') return std::nullopt;  // no members: not an envelope
    for (;;) {
      std::string_view key;
      if (!string(key)) return std::nullopt;
      ws();
      if (!take(':')) return std::nullopt;
      ws();
      const unsigned bit = field_bit(key);
      if (bit == 0 || (seen & bit) != 0) return std::nullopt;  // unknown or repeated key
      seen |= bit;
      bool ok = false;
      std::string_view sv;
      switch (bit) {
        case kEventId:
          ok = string(sv);
          e.event_id = sv;
          break;
        case kStreamId:
          ok = string(sv);
          e.stream_id = sv;
          break;
        case kType:
          ok = string(sv);
          e.type = sv;
          break;
        case kVersion:
          ok = integer(e.version);
          break;
        case kPosition:
          ok = integer(e.position);
          break;
        case kRecordedAt:
          ok = integer(e.recorded_at_us);
          break;
        case kSchemaVersion: {
          std::int64_t v = 0;
          ok = integer(v) && v >= INT32_MIN && v <= INT32_MAX;
          e.schema_version = static_cast<int>(v);
          break;
        }
        case kGlobalPosition: {
          if (b_.substr(i_, 4) == "null") {
            i_ += 4;
            ok = true;
          } else {
            std::int64_t v = 0;
            ok = integer(v);
            e.global_position = v;
          }
          break;
        }
        case kData:
          ok = object(e.data);
          break;
        case kMetadata:
          ok = object(e.metadata);
          break;
      }
      if (!ok) return std::nullopt;
      ws();
      if (take('}')) break;
      if (!take(',')) return std::nullopt;
      ws();
    }
    ws();
    if (i_ != b_.size()) return std::nullopt;
    if ((seen & kRequired) != kRequired) return std::nullopt;
    if ((seen & kMetadata) == 0) e.metadata = json::object();
    return e;
  }

 private:
  enum : unsigned {
    kEventId = 1,
    kStreamId = 2,
    kVersion = 4,
    kPosition = 8,
    kGlobalPosition = 16,
    kType = 32,
    kSchemaVersion = 64,
    kRecordedAt = 128,
    kData = 256,
    kMetadata = 512,
    kRequired =
        kEventId | kStreamId | kVersion | kPosition | kType | kSchemaVersion | kRecordedAt | kData,
  };
  static unsigned field_bit(std::string_view k) {
    if (k == "event_id") return kEventId;
    if (k == "stream_id") return kStreamId;
    if (k == "version") return kVersion;
    if (k == "position") return kPosition;
    if (k == "global_position") return kGlobalPosition;
    if (k == "type") return kType;
    if (k == "schema_version") return kSchemaVersion;
    if (k == "recorded_at_us") return kRecordedAt;
    if (k == "data") return kData;
    if (k == "metadata") return kMetadata;
    return 0;
  }
  char peek() const { return i_ < b_.size() ? b_[i_] : '\0'; }
  bool take(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  void ws() {
    while (i_ < b_.size() && (b_[i_] == ' ' || b_[i_] == '\n' || b_[i_] == '\r' || b_[i_] == '\t'))
      ++i_;
  }
  // "..." of printable ASCII without escapes (anything else: the full parse).
  bool string(std::string_view& out) {
    if (!take('"')) return false;
    const std::size_t from = i_;
    while (i_ < b_.size()) {
      const auto c = static_cast<unsigned char>(b_[i_]);
      if (c == '"') {
        out = b_.substr(from, i_ - from);
        ++i_;
        return true;
      }
      if (c == '\\' || c < 0x20 || c >= 0x7f) return false;
      ++i_;
    }
    return false;
  }
  // An integer as JSON writes it: -?(0|[1-9][0-9]*), no fraction or exponent, in int64 range.
  bool integer(std::int64_t& out) {
    const std::size_t from = i_;
    if (peek() == '-') ++i_;
    if (peek() == '0' && i_ + 1 < b_.size() && b_[i_ + 1] >= '0' && b_[i_ + 1] <= '9') return false;
    const char* first = b_.data() + from;
    const char* last = b_.data() + b_.size();
    auto [ptr, ec] = std::from_chars(first, last, out);
    if (ec != std::errc{} || ptr == first) return false;
    i_ = static_cast<std::size_t>(ptr - b_.data());
    const char n = peek();
    return n != '.' && n != 'e' && n != 'E';
  }
  // A {...} value (strings and nesting respected), handed to the JSON parser.
  bool object(json& out) {
    if (peek() != '{') return false;
    const std::size_t from = i_;
    int depth = 0;
    while (i_ < b_.size()) {
      const char c = b_[i_++];
      if (c == '"') {
        while (i_ < b_.size() && b_[i_] != '"') i_ += b_[i_] == '\\' ? 2 : 1;
        if (i_ >= b_.size()) return false;
        ++i_;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) {
          out = json::parse(b_.substr(from, i_ - from), nullptr, false);
          return !out.is_discarded() && out.is_object();
        }
      }
    }
    return false;
  }

  std::string_view b_;
  std::size_t i_ = 0;
};

}  // namespace

std::optional<RecordedEvent> from_wire_json(std::string_view body) {
  if (auto e = WireScanner(body).scan()) return e;
  return parse_wire_json_fully(body);
}

std::optional<RecordedEvent> parse_wire_json_fully(std::string_view body) {
  try {
    json j = json::parse(body);
    RecordedEvent e;
    e.event_id = j.at("event_id").get<std::string>();
    e.stream_id = j.at("stream_id").get<std::string>();
    e.version = j.at("version").get<std::int64_t>();
    e.position = j.at("position").get<std::int64_t>();
    if (j.contains("global_position") && !j["global_position"].is_null()) {
      e.global_position = j["global_position"].get<std::int64_t>();
    }
    e.type = j.at("type").get<std::string>();
    e.schema_version = j.at("schema_version").get<int>();
    e.recorded_at_us = j.at("recorded_at_us").get<std::int64_t>();
    e.data =
        std::move(j.at("data"));  // moved, not copied: the projector decodes thousands per second
    if (auto m = j.find("metadata"); m != j.end()) {
      e.metadata = std::move(*m);
    } else {
      e.metadata = json::object();
    }
    return e;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace orders::codec
