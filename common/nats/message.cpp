#include "common/nats/message.hpp"

#include <utility>

#include "common/nats/detail/status.hpp"

namespace orders::nats {
namespace {

constexpr std::string_view kAckPrefix = "$JS.ACK.";

struct AckSequences {
  std::uint64_t stream = 0;
  std::uint64_t delivery = 0;
};

std::uint64_t number(std::string_view digits) {
  std::uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

// The stream and delivery (consumer) sequences from a JetStream ack subject, without allocating:
//   $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>            (7 tokens)
//   $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>.<rnd>
// Zeros when the subject is not an ack subject.
AckSequences sequences_from_ack(const char* reply) {
  if (!reply) return {};
  std::string_view r(reply);
  if (r.substr(0, kAckPrefix.size()) != kAckPrefix) return {};
  r.remove_prefix(kAckPrefix.size());
  std::string_view tokens[12];
  std::size_t n = 0;
  while (n < 12) {
    auto dot = r.find('.');
    tokens[n++] = r.substr(0, dot);
    if (dot == std::string_view::npos) break;
    r.remove_prefix(dot + 1);
  }
  if (n == 7) return {number(tokens[3]), number(tokens[4])};
  if (n >= 10) return {number(tokens[5]), number(tokens[6])};
  return {};
}

AckSequences sequences_of(natsMsg* m) {
  if (m == nullptr) return {};
  if (auto seqs = sequences_from_ack(natsMsg_GetReply(m)); seqs.stream != 0) return seqs;
  return {natsMsg_GetSequence(m), 0};  // a message read with js_GetMsg carries it directly
}

}  // namespace

Message::Message(natsMsg* msg) : msg_(msg) {
  const auto seqs = sequences_of(msg);
  stream_seq_ = seqs.stream;
  delivery_seq_ = seqs.delivery;
}
Message::Message(Message&& o) noexcept
    : msg_(std::exchange(o.msg_, nullptr)),
      stream_seq_(o.stream_seq_),
      delivery_seq_(o.delivery_seq_) {}
Message& Message::operator=(Message&& o) noexcept {
  if (this != &o) {
    if (msg_ != nullptr) natsMsg_Destroy(msg_);
    msg_ = std::exchange(o.msg_, nullptr);
    stream_seq_ = o.stream_seq_;
    delivery_seq_ = o.delivery_seq_;
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
