#include "bus/jetstream.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>

#include <nats/nats.h>

namespace orders::read_side::bus {

namespace {

std::string describe(natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0)) {
  std::string out = natsStatus_GetText(s);
  if (jerr != 0) out += " (jetstream error " + std::to_string(static_cast<int>(jerr)) + ")";
  return out;
}

void check(natsStatus s, const char* what) {
  if (s != NATS_OK) throw NatsError(std::string(what) + ": " + describe(s));
}

}  // namespace

Connection::Connection(const std::string& url, std::string stream) : stream_(std::move(stream)) {
  natsOptions* opts = nullptr;
  check(natsOptions_Create(&opts), "nats options");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> guard(opts, natsOptions_Destroy);
  check(natsOptions_SetURL(opts, url.c_str()), "nats url");
  check(natsOptions_SetMaxReconnect(opts, -1), "nats max reconnect");
  check(natsOptions_SetReconnectWait(opts, 250), "nats reconnect wait");
  check(natsOptions_SetRetryOnFailedConnect(opts, true, nullptr, nullptr), "nats retry connect");
  check(natsOptions_SetTimeout(opts, 2000), "nats timeout");
  natsStatus s = natsConnection_Connect(&nc_, opts);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    throw NatsError("nats connect " + url + ": " + describe(s));
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 5000;
  s = natsConnection_JetStream(&js_, nc_, &jo);
  if (s != NATS_OK) {
    natsConnection_Destroy(nc_);
    throw NatsError("jetstream context: " + describe(s));
  }
}

Connection::~Connection() {
  if (js_) jsCtx_Destroy(js_);
  if (nc_) {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
}

bool Connection::connected() const { return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED; }

std::string Connection::subject_prefix() const {
  std::string out = stream_;
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

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

}  // namespace

Message::Message(natsMsg* m) : msg_(m), stream_seq_(stream_seq_from_ack(natsMsg_GetReply(m))) {}
Message::Message(natsMsg* m, std::uint64_t stream_seq) : msg_(m), stream_seq_(stream_seq) {}
Message::Message(Message&& o) noexcept : msg_(o.msg_), stream_seq_(o.stream_seq_) { o.msg_ = nullptr; }
Message& Message::operator=(Message&& o) noexcept {
  if (this != &o) {
    if (msg_) natsMsg_Destroy(msg_);
    msg_ = o.msg_;
    stream_seq_ = o.stream_seq_;
    o.msg_ = nullptr;
  }
  return *this;
}
Message::~Message() {
  if (msg_) natsMsg_Destroy(msg_);
}
std::string_view Message::data() const {
  const char* d = natsMsg_GetData(msg_);
  return d ? std::string_view(d, static_cast<std::size_t>(natsMsg_GetDataLength(msg_))) : std::string_view{};
}

// The credit window's state (see the header). Only the fetching thread touches it.
//
// One request is outstanding at a time: JetStream delivers a pull's messages under their stream
// subjects (only its status replies come on the request's reply subject), so with two requests
// open the credits left in each could not be told apart. A request is replaced when its batch has
// all arrived, when its 408 (expired) / 409 arrives, or, if neither came (nats-server restarted
// unnoticed), kGrace after it should have expired.
struct PullConsumer::Window {
  using Clock = std::chrono::steady_clock;
  static constexpr auto kExpiry = std::chrono::seconds(5);
  static constexpr auto kGrace = std::chrono::seconds(1);
  // How long after a nak messages other than the nak'ed batch's first are nak'ed in turn while
  // waiting for its redelivery (bounded in case the nak itself was lost).
  static constexpr auto kResyncFor = std::chrono::seconds(1);

  std::string inbox;         // "_INBOX.<nuid>"; requests reply to "<inbox>.<id>"
  std::string next_subject;  // "$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>"
  std::uint64_t next_id = 1;
  std::uint64_t requests_sent = 0;
  // The outstanding request (pull_id == 0: none).
  std::uint64_t pull_id = 0;
  int remaining = 0;
  Clock::time_point lapses;  // sent + kExpiry + kGrace
  natsStatistics* stats = nullptr;
  std::uint64_t reconnects = 0;
  std::uint64_t resync_seq = 0;  // != 0: waiting for this sequence's redelivery
  Clock::time_point resync_until;

  ~Window() {
    if (stats) natsStatistics_Destroy(stats);
  }

  // The request id of a status reply's subject ("<inbox>.<id>"), 0 if it is not one of ours.
  std::uint64_t request_of(const char* subject) const {
    std::string_view sv(subject ? subject : "");
    if (sv.size() <= inbox.size() + 1 || sv.substr(0, inbox.size()) != inbox || sv[inbox.size()] != '.') {
      return 0;
    }
    std::uint64_t id = 0;
    for (char c : sv.substr(inbox.size() + 1)) {
      if (c < '0' || c > '9') return 0;
      id = id * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return id;
  }
};

PullConsumer::PullConsumer(Connection& conn, ConsumerOptions options)
    : conn_(conn), options_(std::move(options)), window_(std::make_unique<Window>()) {
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsConsumerInfo* ci = nullptr;
  natsStatus s = js_GetConsumerInfo(&ci, conn_.js(), conn_.stream().c_str(), options_.durable.c_str(),
                                    nullptr, &jerr);
  if (s == NATS_NOT_FOUND) {
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = options_.durable.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.DeliverPolicy = js_DeliverAll;
    cc.FilterSubject = options_.filter_subject.c_str();
    cc.AckWait = static_cast<int64_t>(options_.ack_wait.count()) * 1'000'000;
    cc.MaxAckPending = options_.max_ack_pending;
    jerr = static_cast<jsErrCode>(0);
    s = js_AddConsumer(&ci, conn_.js(), conn_.stream().c_str(), &cc, nullptr, &jerr);
    // A replica racing us may have created it first: fine, use it.
    if (s != NATS_OK && jerr != JSConsumerNameExistErr) {
      throw NatsError("create consumer " + options_.durable + ": " + describe(s, jerr));
    }
  } else if (s != NATS_OK) {
    throw NatsError("consumer info " + options_.durable + ": " + describe(s, jerr));
  }
  if (ci) jsConsumerInfo_Destroy(ci);

  // Our own inbox instead of js_PullSubscribe: the window's requests are ours to send and count.
  natsInbox* inbox = nullptr;
  check(natsInbox_Create(&inbox), "inbox");
  window_->inbox = inbox;
  natsInbox_Destroy(inbox);
  window_->next_subject = "$JS.API.CONSUMER.MSG.NEXT." + conn_.stream() + "." + options_.durable;
  check(natsStatistics_Create(&window_->stats), "nats statistics");
  if (natsConnection_GetStats(conn_.raw(), window_->stats) == NATS_OK) {
    natsStatistics_GetCounts(window_->stats, nullptr, nullptr, nullptr, nullptr, &window_->reconnects);
  }
  s = natsConnection_SubscribeSync(&sub_, conn_.raw(), (window_->inbox + ".*").c_str());
  if (s != NATS_OK) throw NatsError("subscribe " + options_.durable + ": " + describe(s));
}

PullConsumer::~PullConsumer() {
  // The consumer stays; its outstanding requests lapse (their messages are redelivered after
  // ack_wait, to whoever pulls then).
  if (sub_) {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }
}

std::uint64_t PullConsumer::pull_requests() const { return window_->requests_sent; }

namespace {

// The "Status" header of a message without payload ("408", "409", "100", ...), or "".
std::string_view status_of(natsMsg* m) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, "Status", &v) == NATS_OK && v) return v;
  return {};
}

}  // namespace

// Takes what has arrived (or waits for the first message up to `timeout`) and keeps the window
// topped up, so the server has requests to deliver into while the caller applies this batch.
std::vector<Message> PullConsumer::fetch(int batch, std::chrono::milliseconds timeout) {
  using Clock = Window::Clock;
  auto& w = *window_;
  if (batch < 1) batch = 1;
  const auto deadline = Clock::now() + timeout;

  // A reconnect lost the server's side of our request (and nats-server may have restarted).
  if (natsConnection_GetStats(conn_.raw(), w.stats) == NATS_OK) {
    std::uint64_t reconnects = 0;
    natsStatistics_GetCounts(w.stats, nullptr, nullptr, nullptr, nullptr, &reconnects);
    if (reconnects != w.reconnects) {
      w.reconnects = reconnects;
      w.pull_id = 0;
      w.resync_seq = 0;
    }
  }

  auto top_up = [&](Clock::time_point now) {
    if (w.pull_id != 0 && now < w.lapses) return;
    char body[96];
    const long long expires_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Window::kExpiry).count();
    int len = std::snprintf(body, sizeof body, "{\"batch\":%d,\"expires\":%lld}", batch, expires_ns);
    char reply[128];
    std::snprintf(reply, sizeof reply, "%s.%llu", w.inbox.c_str(), static_cast<unsigned long long>(w.next_id));
    natsStatus s = natsConnection_PublishRequest(conn_.raw(), w.next_subject.c_str(), reply, body, len);
    if (s != NATS_OK) throw NatsError("pull request " + options_.durable + ": " + describe(s));
    w.pull_id = w.next_id++;
    w.remaining = batch;
    w.lapses = now + Window::kExpiry + Window::kGrace;
    ++w.requests_sent;
  };

  std::vector<Message> out;
  // One message from the inbox: a delivery (kept, unless it is being nak'ed while resyncing) or a
  // status for one of our requests.
  auto take = [&](natsMsg* raw) {
    Message m(raw);  // owns raw from here
    if (m.stream_sequence() != 0) {
      if (w.pull_id != 0 && --w.remaining <= 0) w.pull_id = 0;
      if (w.resync_seq != 0) {
        if (m.stream_sequence() == w.resync_seq || Clock::now() >= w.resync_until) {
          w.resync_seq = 0;
        } else {
          // Arrived after a nak'ed batch but before its redelivery: send it back behind it.
          natsConnection_Publish(conn_.raw(), natsMsg_GetReply(raw), "-NAK", 4);
          return;
        }
      }
      out.push_back(std::move(m));
      return;
    }
    const auto status = status_of(raw);
    if (status == "100") return;  // heartbeat
    const bool current = w.pull_id != 0 && w.request_of(natsMsg_GetSubject(raw)) == w.pull_id;
    if (current) w.pull_id = 0;     // expired (408) or ended (409): replace it
    if (status == "408" || status == "404") return;
    if (status == "409") {
      const char* desc = nullptr;
      natsMsgHeader_Get(raw, "Description", &desc);
      const std::string d = desc ? desc : "";
      if (d.find("Consumer Deleted") != std::string::npos || d.find("Consumer is push based") != std::string::npos) {
        throw NatsError("pull " + options_.durable + ": " + d);
      }
      return;  // e.g. "Exceeded MaxWaiting", "Server Shutdown": top_up replaces the request
    }
    if (status == "503") {
      w.pull_id = 0;
      throw NatsError("pull " + options_.durable + ": no responders");
    }
  };

  auto next = [&](std::chrono::milliseconds wait) -> bool {
    natsMsg* raw = nullptr;
    natsStatus s = natsSubscription_NextMsg(&raw, sub_, wait.count());
    if (s == NATS_TIMEOUT) return false;
    if (s == NATS_NO_RESPONDERS) {
      w.pull_id = 0;  // JetStream not (yet) there: nothing was queued
      throw NatsError("pull " + options_.durable + ": no responders");
    }
    if (s != NATS_OK) throw NatsError("fetch " + options_.durable + ": " + describe(s));
    take(raw);
    return true;
  };

  top_up(Clock::now());
  // What is there already.
  while (static_cast<int>(out.size()) < batch && next(std::chrono::milliseconds(0))) {
  }
  // Otherwise wait for the first message, renewing requests that come due meanwhile.
  while (out.empty()) {
    auto now = Clock::now();
    if (now >= deadline) break;
    top_up(now);
    auto until = std::min(deadline, w.lapses);
    auto wait = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(until - now),
                         std::chrono::milliseconds(0)) +
                std::chrono::milliseconds(1);
    next(wait);
    while (!out.empty() && static_cast<int>(out.size()) < batch && next(std::chrono::milliseconds(0))) {
    }
  }
  top_up(Clock::now());
  return out;
}

void PullConsumer::ack(const std::vector<Message>& msgs) {
  for (const auto& m : msgs) {
    const char* reply = natsMsg_GetReply(m.raw());
    if (!reply) continue;
    natsStatus s = natsConnection_Publish(conn_.raw(), reply, "+ACK", 4);
    if (s != NATS_OK) throw NatsError("ack: " + describe(s));
  }
}

void PullConsumer::nak(const std::vector<Message>& msgs) {
  for (const auto& m : msgs) {
    const char* reply = natsMsg_GetReply(m.raw());
    if (reply) natsConnection_Publish(conn_.raw(), reply, "-NAK", 4);
  }
  if (!msgs.empty() && msgs.front().stream_sequence() != 0) {
    // Later messages of the window may be queued here or on the wire already: until the batch's
    // first message comes back, nak whatever else arrives (it queues behind the batch).
    window_->resync_seq = msgs.front().stream_sequence();
    window_->resync_until = Window::Clock::now() + Window::kResyncFor;
  }
}

}  // namespace orders::read_side::bus
