#include "read-side/bus/jetstream.hpp"

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
    natsConnection_Close(nc_);  // its reader thread has ended: the retired ones can go
    destroy_retired(UINT64_MAX);
    natsConnection_Destroy(nc_);
  }
}

void Connection::retire(natsSubscription* sub) {
  if (sub == nullptr) return;
  natsSubscription_Unsubscribe(sub);  // no later message finds it
  std::uint64_t mine = 0;
  {
    std::lock_guard lock(retired_mu_);
    mine = ++retired_count_;
    retired_.emplace_back(mine, sub);
  }
  // Not while disconnected: the flush would wait for the reconnection.
  if (connected() && natsConnection_FlushTimeout(nc_, 1000) == NATS_OK) destroy_retired(mine);
}

// Those retired before the flush that just succeeded was sent (up_to: the count then).
void Connection::destroy_retired(std::uint64_t up_to) {
  std::vector<natsSubscription*> done;
  {
    std::lock_guard lock(retired_mu_);
    auto keep = std::partition(retired_.begin(), retired_.end(),
                               [&](const auto& r) { return r.first > up_to; });
    for (auto it = keep; it != retired_.end(); ++it) done.push_back(it->second);
    retired_.erase(keep, retired_.end());
  }
  for (auto* sub : done) natsSubscription_Destroy(sub);
}

bool Connection::connected() const {
  return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}

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
Message::Message(Message&& o) noexcept : msg_(o.msg_), stream_seq_(o.stream_seq_) {
  o.msg_ = nullptr;
}
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
  return d ? std::string_view(d, static_cast<std::size_t>(natsMsg_GetDataLength(msg_)))
           : std::string_view{};
}

// The credit window's state (see the header). Only the fetching thread touches it.
//
// One request is outstanding at a time (but for a moment, below): JetStream delivers a pull's
// messages under their stream subjects (only its status replies come on the request's reply
// subject), so with two requests open the credits left in each could not be told apart. A
// request is replaced when its batch has all arrived, when its 408 (expired) / 409 arrives, and
// in any case kRenewEarly before it expires, so that no moment is left without an open request.
// (Replacing it only a grace period after its expiry when no 408 had come, lag runs at 2,000
// cmds/s with PROJECTOR_BATCH=5000, i.e. requests that expire part used, showed fetch stalls of
// 0.25-1 s in 3 of 5 runs; none in 7 runs since. What withheld the 408 or delayed its reading is
// not pinned down.) The two requests overlap for kRenewEarly; a message counted against the new
// one's credits meanwhile only makes its replacement come a little sooner.
struct PullConsumer::Window {
  using Clock = std::chrono::steady_clock;
  static constexpr auto kExpiry = std::chrono::seconds(5);
  static constexpr auto kRenewEarly = std::chrono::milliseconds(250);

  std::string name;          // the consumer generation bound: "<durable>_a<gen>"
  std::string inbox;         // "_INBOX.<nuid>"; requests reply to "<inbox>.<id>"
  std::string next_subject;  // "$JS.API.CONSUMER.MSG.NEXT.<stream>.<name>"
  std::uint64_t next_id = 1;
  std::uint64_t requests_sent = 0;
  // The outstanding request (pull_id == 0: none).
  std::uint64_t pull_id = 0;
  int remaining = 0;
  Clock::time_point lapses;  // sent + kExpiry - kRenewEarly: replace it then
  natsStatistics* stats = nullptr;
  std::uint64_t reconnects = 0;
  bool rebind = false;  // start a new generation at the ack floor before fetching again

  ~Window() {
    if (stats) natsStatistics_Destroy(stats);
  }

  // The request id of a status reply's subject ("<inbox>.<id>"), 0 if it is not one of ours.
  std::uint64_t request_of(const char* subject) const {
    std::string_view sv(subject ? subject : "");
    if (sv.size() <= inbox.size() + 1 || sv.substr(0, inbox.size()) != inbox ||
        sv[inbox.size()] != '.') {
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

namespace {

// The generation of consumer `name` for durable `base`: "<base>" (the explicit-ack consumer of
// earlier versions) is 0, "<base>_a<n>_<nonce>" is n; -1 for other names.
long long generation_of(std::string_view name, std::string_view base) {
  if (name == base) return 0;
  if (name.size() <= base.size() + 2 || name.substr(0, base.size()) != base ||
      name.substr(base.size(), 2) != "_a") {
    return -1;
  }
  auto rest = name.substr(base.size() + 2);
  auto sep = rest.find('_');
  if (sep == 0 || sep == std::string_view::npos) return -1;
  long long n = 0;
  for (char c : rest.substr(0, sep)) {
    if (c < '0' || c > '9' || n > 1'000'000'000'000LL) return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

PullConsumer::PullConsumer(Connection& conn, ConsumerOptions options)
    : conn_(conn), options_(std::move(options)), window_(std::make_unique<Window>()) {
  check(natsStatistics_Create(&window_->stats), "nats statistics");
  bind();
}

// Starts a new consumer generation at the highest ack floor of the existing ones and deletes them:
//  - AckAll needs every message above the floor to come to us, in order: messages another owner
//    (or we, before a nak or a lost connection) had delivered and never acked would otherwise be
//    redelivered only after ack_wait, behind later ones whose ack would cover them.
//  - Deleting the old generations fences off a previous owner that still pulls from them.
//  - Each bind's consumer has a name of its own (a nonce after the generation): two binders
//    racing (a previous owner that lost its partition lock without noticing yet) never share one
//    consumer's delivery state; either one's ack floor covers only applied events, so the next
//    bind may start at the highest floor it finds.
// The explicit-ack consumer "<durable>" of earlier versions counts as generation 0: its ack floor
// is where the first AckAll generation starts (messages above it that it had acked come again and
// are skipped by the projector as duplicates).
void PullConsumer::bind() {
  auto& w = *window_;
  conn_.retire(sub_);
  sub_ = nullptr;
  w.pull_id = 0;
  w.rebind = true;  // until this succeeds
  const std::string& stream = conn_.stream();
  const std::string& base = options_.durable;
  if (natsConnection_GetStats(conn_.raw(), w.stats) == NATS_OK) {
    natsStatistics_GetCounts(w.stats, nullptr, nullptr, nullptr, nullptr, &w.reconnects);
  }

  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsConsumerNamesList* names = nullptr;
  natsStatus s = js_ConsumerNames(&names, conn_.js(), stream.c_str(), nullptr, &jerr);
  if (s != NATS_OK && s != NATS_NOT_FOUND)
    throw NatsError("consumer names " + base + ": " + describe(s, jerr));
  std::vector<std::pair<long long, std::string>> gens;
  if (names) {
    for (int i = 0; i < names->Count; ++i) {
      auto g = generation_of(names->List[i], base);
      if (g >= 0) gens.emplace_back(g, names->List[i]);
    }
    jsConsumerNamesList_Destroy(names);
  }
  std::sort(gens.begin(), gens.end());

  std::uint64_t start = 0;  // 0: deliver all
  long long gen = 1;
  for (const auto& [g, name] : gens) {
    jsConsumerInfo* ci = nullptr;
    jerr = static_cast<jsErrCode>(0);
    s = js_GetConsumerInfo(&ci, conn_.js(), stream.c_str(), name.c_str(), nullptr, &jerr);
    // Deleted by a racing binder meanwhile: its floor would be missed (at worst all of them, and a
    // replay from the stream's start); list again on the next attempt.
    if (s == NATS_NOT_FOUND)
      throw NatsError("consumer " + name + " vanished (a racing bind): retry");
    if (s != NATS_OK) throw NatsError("consumer info " + name + ": " + describe(s, jerr));
    // A generation that acked nothing yet reports floor 0: its own start is the floor then.
    std::uint64_t floor = ci->AckFloor.Stream;
    if (ci->Config && ci->Config->DeliverPolicy == js_DeliverByStartSequence &&
        ci->Config->OptStartSeq > 0) {
      floor = std::max(floor, ci->Config->OptStartSeq - 1);
    }
    start = std::max(start, floor + 1);
    jsConsumerInfo_Destroy(ci);
    gen = std::max(gen, g + 1);
  }

  natsInbox* inbox = nullptr;
  check(natsInbox_Create(&inbox), "inbox");
  w.inbox = inbox;
  natsInbox_Destroy(inbox);
  // The inbox ends in a random NUID (base 62): its last 10 characters make the name unique.
  w.name = base + "_a" + std::to_string(gen) + "_" + w.inbox.substr(w.inbox.size() - 10);
  const std::string description = "read-side " + w.inbox;
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = w.name.c_str();
  cc.Description = description.c_str();
  cc.AckPolicy = js_AckAll;
  cc.DeliverPolicy = start == 0 ? js_DeliverAll : js_DeliverByStartSequence;
  cc.OptStartSeq = start;
  cc.FilterSubject = options_.filter_subject.c_str();
  cc.AckWait = static_cast<int64_t>(options_.ack_wait.count()) * 1'000'000;
  cc.MaxAckPending = options_.max_ack_pending;
  jsConsumerInfo* created = nullptr;
  jerr = static_cast<jsErrCode>(0);
  s = js_AddConsumer(&created, conn_.js(), stream.c_str(), &cc, nullptr, &jerr);
  if (created) jsConsumerInfo_Destroy(created);
  if (s != NATS_OK) throw NatsError("create consumer " + w.name + ": " + describe(s, jerr));
  for (const auto& [g, name] : gens) {
    jerr = static_cast<jsErrCode>(0);
    js_DeleteConsumer(conn_.js(), stream.c_str(), name.c_str(), nullptr,
                      &jerr);  // gone already: fine
  }

  // Our own inbox instead of js_PullSubscribe: the window's requests are ours to send and count.
  w.next_subject = "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + w.name;
  s = natsConnection_SubscribeSync(&sub_, conn_.raw(), (w.inbox + ".*").c_str());
  if (s != NATS_OK) throw NatsError("subscribe " + w.name + ": " + describe(s));
  w.rebind = false;
}

PullConsumer::~PullConsumer() {
  // The consumer stays for the next owner, who starts a new generation at its ack floor.
  conn_.retire(sub_);
}

std::uint64_t PullConsumer::pull_requests() const {
  return window_->requests_sent;
}
const std::string& PullConsumer::consumer_name() const {
  return window_->name;
}

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

  // Whether the connection was re-established since the last look: deliveries in flight then
  // were lost (and nats-server may have restarted and lost our request), so a later message's
  // AckAll could cover messages we never got: start again at the ack floor.
  auto reconnected = [&] {
    std::uint64_t reconnects = w.reconnects;
    if (natsConnection_GetStats(conn_.raw(), w.stats) == NATS_OK) {
      natsStatistics_GetCounts(w.stats, nullptr, nullptr, nullptr, nullptr, &reconnects);
    }
    if (reconnects == w.reconnects) return false;
    w.reconnects = reconnects;
    return true;
  };
  if (reconnected()) w.rebind = true;
  if (w.rebind) bind();

  auto top_up = [&](Clock::time_point now) {
    if (w.pull_id != 0 && now < w.lapses) return;
    char body[96];
    const long long expires_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Window::kExpiry).count();
    int len =
        std::snprintf(body, sizeof body, "{\"batch\":%d,\"expires\":%lld}", batch, expires_ns);
    char reply[128];
    std::snprintf(reply, sizeof reply, "%s.%llu", w.inbox.c_str(),
                  static_cast<unsigned long long>(w.next_id));
    natsStatus s =
        natsConnection_PublishRequest(conn_.raw(), w.next_subject.c_str(), reply, body, len);
    if (s != NATS_OK) throw NatsError("pull request " + w.name + ": " + describe(s));
    w.pull_id = w.next_id++;
    w.remaining = batch;
    w.lapses = now + Window::kExpiry - Window::kRenewEarly;
    ++w.requests_sent;
  };

  std::vector<Message> out;
  // One message from the inbox: a delivery or a status for one of our requests.
  auto take = [&](natsMsg* raw) {
    Message m(raw);  // owns raw from here
    if (m.stream_sequence() != 0) {
      if (w.pull_id != 0 && --w.remaining <= 0) w.pull_id = 0;
      out.push_back(std::move(m));
      return;
    }
    const auto status = status_of(raw);
    if (status == "100") return;  // heartbeat
    const bool current = w.pull_id != 0 && w.request_of(natsMsg_GetSubject(raw)) == w.pull_id;
    if (current) w.pull_id = 0;  // expired (408) or ended (409): replace it
    if (status == "408" || status == "404") return;
    if (status == "409") {
      const char* desc = nullptr;
      natsMsgHeader_Get(raw, "Description", &desc);
      const std::string d = desc ? desc : "";
      if (d.find("Consumer Deleted") != std::string::npos ||
          d.find("Consumer is push based") != std::string::npos) {
        w.rebind = true;
        throw NatsError("pull " + w.name + ": " + d);
      }
      return;  // e.g. "Exceeded MaxWaiting", "Server Shutdown": top_up replaces the request
    }
    if (status == "503") {
      w.pull_id = 0;
      throw NatsError("pull " + w.name + ": no responders");
    }
  };

  auto next = [&](std::chrono::milliseconds wait) -> bool {
    natsMsg* raw = nullptr;
    natsStatus s = natsSubscription_NextMsg(&raw, sub_, wait.count());
    if (s == NATS_TIMEOUT) return false;
    if (s == NATS_NO_RESPONDERS) {
      w.pull_id = 0;  // JetStream not (yet) there: nothing was queued
      throw NatsError("pull " + w.name + ": no responders");
    }
    if (s != NATS_OK) throw NatsError("fetch " + w.name + ": " + describe(s));
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
    while (!out.empty() && static_cast<int>(out.size()) < batch &&
           next(std::chrono::milliseconds(0))) {
    }
  }
  if (reconnected()) {
    // Some of these may follow a gap: drop them, the next fetch starts at the ack floor.
    w.rebind = true;
    out.clear();
    return out;
  }
  top_up(Clock::now());
  return out;
}

// AckAll: one ack for the batch, on its highest stream sequence. Everything this generation
// delivered below it was delivered before it (first deliveries come in stream order) and so was
// applied in this or an earlier batch; redeliveries are copies of such messages.
void PullConsumer::ack(const std::vector<Message>& msgs) {
  const Message* top = nullptr;
  for (const auto& m : msgs) {
    if (natsMsg_GetReply(m.raw()) && (!top || m.stream_sequence() > top->stream_sequence()))
      top = &m;
  }
  if (!top) return;
  natsStatus s = natsConnection_Publish(conn_.raw(), natsMsg_GetReply(top->raw()), "+ACK", 4);
  if (s != NATS_OK) throw NatsError("ack: " + describe(s));
}

// The batch and everything after it must come again, in order: start a new generation at the ack
// floor before the next fetch (a nak would put the batch behind messages already on their way).
void PullConsumer::nak(const std::vector<Message>& msgs) {
  if (!msgs.empty()) window_->rebind = true;
}

}  // namespace orders::read_side::bus
