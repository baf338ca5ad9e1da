#include "common/nats/message.hpp"

#include <utility>

#include "common/nats/detail/status.hpp"

namespace orders::nats {
namespace {

constexpr std::string_view kAckPrefix = "$JS.ACK.";

// The stream sequence from a JetStream ack subject, without allocating:
//   $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>            (7 tokens)
//   $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>.<rnd>
// 0 when the subject is not an ack subject.
std::uint64_t stream_seq_from_ack(const char* reply) {
  if (!reply) return 0;
  std::string_view r(reply);
  if (r.substr(0, kAckPrefix.size()) != kAckPrefix) return 0;
  r.remove_prefix(kAckPrefix.size());
  std::string_view tokens[12];
  std::size_t n = 0;
  while (n < 12) {
    auto dot = r.find('.');
    tokens[n++] = r.substr(0, dot);
    if (dot == std::string_view::npos) break;
    r.remove_prefix(dot + 1);
  }
  std::string_view seq;
  if (n == 7) {
    seq = tokens[3];
  } else if (n >= 10) {
    seq = tokens[5];
  } else {
    return 0;
  }
  std::uint64_t v = 0;
  for (char c : seq) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

std::uint64_t stream_seq_of(natsMsg* m) {
  if (m == nullptr) return 0;
  if (auto seq = stream_seq_from_ack(natsMsg_GetReply(m)); seq != 0) return seq;
  return natsMsg_GetSequence(m);  // a message read with js_GetMsg carries it directly
}

}  // namespace

Message::Message(natsMsg* msg) : msg_(msg), stream_seq_(stream_seq_of(msg)) {}
Message::Message(Message&& o) noexcept
    : msg_(std::exchange(o.msg_, nullptr)), stream_seq_(o.stream_seq_) {}
Message& Message::operator=(Message&& o) noexcept {
  if (this != &o) {
    if (msg_ != nullptr) natsMsg_Destroy(msg_);
    msg_ = std::exchange(o.msg_, nullptr);
    stream_seq_ = o.stream_seq_;
  }
  return *this;
}
Message::~Message() {
  if (msg_ != nullptr) natsMsg_Destroy(msg_);
}
std::string_view Message::subject() const {
  const char* s = natsMsg_GetSubject(msg_);
  return s != nullptr ? std::string_view(s) : std::string_view();
}
std::string_view Message::data() const {
  const char* d = natsMsg_GetData(msg_);
  int n = natsMsg_GetDataLength(msg_);
  return d != nullptr ? std::string_view(d, static_cast<std::size_t>(n)) : std::string_view();
}
std::optional<std::string> Message::header(const char* name) const {
  const char* v = nullptr;
  if (natsMsgHeader_Get(msg_, name, &v) == NATS_OK && v != nullptr) return std::string(v);
  return std::nullopt;
}
void Message::ack_sync(std::chrono::milliseconds timeout) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = detail::ms(timeout);
  jsErrCode code = static_cast<jsErrCode>(0);
  detail::check(natsMsg_AckSync(msg_, &o, &code), "ack sync", code);
}

}  // namespace orders::nats
