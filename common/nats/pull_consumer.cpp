#include "common/nats/pull_consumer.hpp"

#include <algorithm>
#include <cstdio>
#include <string_view>
#include <utility>

#include "common/nats/detail/status.hpp"

namespace orders::nats {

using detail::check;

namespace {

std::string describe(natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0)) {
  std::string out = natsStatus_GetText(s);
  if (jerr != 0) out += " (jetstream error " + std::to_string(static_cast<int>(jerr)) + ")";
  return out;
}

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

// The existing generations of `base`, oldest first.
std::vector<std::pair<long long, std::string>> generations(jsCtx* js, const std::string& stream,
                                                           const std::string& base) {
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsConsumerNamesList* names = nullptr;
  natsStatus s = js_ConsumerNames(&names, js, stream.c_str(), nullptr, &jerr);
  if (s != NATS_OK && s != NATS_NOT_FOUND)
    throw NatsError("consumer names " + base + ": " + describe(s, jerr), s, jerr);
  std::vector<std::pair<long long, std::string>> gens;
  if (names) {
    for (int i = 0; i < names->Count; ++i) {
      auto g = generation_of(names->List[i], base);
      if (g >= 0) gens.emplace_back(g, names->List[i]);
    }
    jsConsumerNamesList_Destroy(names);
  }
  std::sort(gens.begin(), gens.end());
  return gens;
}

// Where generation `name` has applied everything: its ack floor, or (nothing acked yet) the
// sequence before its own start.
std::uint64_t ack_floor_of(jsCtx* js, const std::string& stream, const std::string& name) {
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&ci, js, stream.c_str(), name.c_str(), nullptr, &jerr);
  // Deleted by a racing binder meanwhile: its floor would be missed (at worst all of them, and a
  // replay from the stream's start); list again on the next attempt.
  if (s == NATS_NOT_FOUND)
    throw NatsError("consumer " + name + " vanished (a racing bind): retry", s);
  if (s != NATS_OK) throw NatsError("consumer info " + name + ": " + describe(s, jerr), s, jerr);
  std::uint64_t floor = ci->AckFloor.Stream;
  if (ci->Config && ci->Config->DeliverPolicy == js_DeliverByStartSequence &&
      ci->Config->OptStartSeq > 0) {
    floor = std::max(floor, ci->Config->OptStartSeq - 1);
  }
  jsConsumerInfo_Destroy(ci);
  return floor;
}

// The "Status" header of a message without payload ("408", "409", "100", ...), or "".
std::string_view status_of(natsMsg* m) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, "Status", &v) == NATS_OK && v) return v;
  return {};
}

}  // namespace

// The credit window's state (see the header). Only the fetching thread touches it.
//
// One request is outstanding at a time (but for a moment, below): JetStream delivers a pull's
// messages under their stream subjects (only its status replies come on the request's reply
// subject), so with two requests open the credits left in each could not be told apart. A
// request is replaced when its batch has all arrived, when its 408 (expired) / 409 arrives, and
// in any case kRenewEarly before it expires, so that no moment is left without an open request
// (replacing it only after its expiry showed fetch stalls of 0.25-1 s under load). The two
// requests overlap for kRenewEarly; a message counted against the new one's credits meanwhile
// only makes its replacement come a little sooner. kExpiry is short because a request the
// consumer's leader held dies with it (JetStream does not replicate pull requests): after a
// leader change nothing comes until the request is replaced.
// Leader changes (a nats-server lost, issue 15):
//  - While a consumer has no leader (a Raft election: 4-9 s in nats-server 2.9) its requests are
//    answered 503 (no responders). That is waited out, asking again every kRetryNoLeader, with no
//    rebind (a bind needs the leaders too, and a new consumer is one more Raft group to elect);
//    only after options_.rebind_after_no_responders of nothing but 503s is the consumer taken for
//    gone and bound anew.
//  - Deliveries the old leader sent that never arrived would be covered by the AckAll of a later
//    one: every delivery's consumer sequence must follow the previous one's, and a jump (or a step
//    back) drops the batch from there and starts a new generation at the ack floor.
struct PullConsumer::Window {
  using Clock = std::chrono::steady_clock;
  static constexpr auto kExpiry = std::chrono::seconds(2);
  static constexpr auto kRenewEarly = std::chrono::milliseconds(250);
  static constexpr auto kRetryNoLeader = std::chrono::milliseconds(200);

  std::string name;          // the consumer generation bound: "<durable>_a<gen>_<nonce>"
  std::string inbox;         // "_INBOX.<nuid>"; requests reply to "<inbox>.<id>"
  std::string next_subject;  // "$JS.API.CONSUMER.MSG.NEXT.<stream>.<name>"
  std::uint64_t next_id = 1;
  std::uint64_t requests_sent = 0;
  // The outstanding request (pull_id == 0: none).
  std::uint64_t pull_id = 0;
  int remaining = 0;
  Clock::time_point lapses;            // sent + kExpiry - kRenewEarly: replace it then
  Clock::time_point retry_at;          // after a 503: no new request before this
  Clock::time_point leaderless_since;  // the first 503 of the current run of them (epoch: none)
  Clock::time_point heard;             // the last message of any kind from the consumer
  std::uint64_t delivered = 0;         // the consumer sequence of the last delivery taken
  std::uint64_t gaps = 0;              // delivery gaps seen (each started a new generation)
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

PullConsumer::PullConsumer(Connection& conn, ConsumerOptions options)
    : conn_(conn),
      admin_(conn, options.api_timeout),
      options_(std::move(options)),
      window_(std::make_unique<Window>()) {
  check(natsStatistics_Create(&window_->stats), "nats statistics");
  bind();
}

PullConsumer::~PullConsumer() {
  // The consumer stays for the next owner, who starts a new generation at its ack floor.
  conn_.retire(sub_);
}

// Starts a new consumer generation at the highest ack floor of the existing ones and deletes them:
//  - AckAll needs every message above the floor to come to us, in order: messages another owner
//    (or we, before a nak or a lost connection) had delivered and never acked would otherwise be
//    redelivered only after ack_wait, behind later ones whose ack would cover them.
//  - Deleting the old generations fences off a previous owner that still pulls from them.
//  - Each bind's consumer has a name of its own (a nonce after the generation): two binders
//    racing never share one consumer's delivery state; either one's ack floor covers only
//    applied events, so the next bind may start at the highest floor it finds.
// The explicit-ack consumer "<durable>" of earlier versions counts as generation 0: its ack floor
// is where the first AckAll generation starts. With options_.applied_upto the start is right
// after what the caller has applied instead (it holds the partition: no other floor is higher).
void PullConsumer::bind() {
  auto& w = *window_;
  conn_.retire(sub_);
  sub_ = nullptr;
  w.pull_id = 0;
  w.delivered = 0;
  w.leaderless_since = {};
  w.heard = Window::Clock::now();
  w.rebind = true;  // until this succeeds
  const std::string& stream = options_.stream;
  jsCtx* js = admin_.raw();
  if (natsConnection_GetStats(conn_.raw(), w.stats) == NATS_OK) {
    natsStatistics_GetCounts(w.stats, nullptr, nullptr, nullptr, nullptr, &w.reconnects);
  }

  const auto gens = generations(js, stream, options_.durable);
  std::uint64_t start = 0;  // 0: deliver all
  long long gen = 1;
  for (const auto& [g, name] : gens) {
    if (!options_.applied_upto) start = std::max(start, ack_floor_of(js, stream, name) + 1);
    gen = std::max(gen, g + 1);
  }
  if (options_.applied_upto) start = options_.applied_upto() + 1;

  natsInbox* inbox = nullptr;
  check(natsInbox_Create(&inbox), "inbox");
  w.inbox = inbox;
  natsInbox_Destroy(inbox);
  // The inbox ends in a random NUID (base 62): its last 10 characters make the name unique.
  w.name =
      options_.durable + "_a" + std::to_string(gen) + "_" + w.inbox.substr(w.inbox.size() - 10);
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
  cc.Replicas = options_.replicas;
  jsConsumerInfo* created = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_AddConsumer(&created, js, stream.c_str(), &cc, nullptr, &jerr);
  if (created) jsConsumerInfo_Destroy(created);
  if (s != NATS_OK)
    throw NatsError("create consumer " + w.name + ": " + describe(s, jerr), s, jerr);
  for (const auto& [g, name] : gens) {
    jerr = static_cast<jsErrCode>(0);
    if (options_.async_deletes) {
      // The answer goes to an inbox nobody reads.
      const std::string subject = "$JS.API.CONSUMER.DELETE." + stream + "." + name;
      const std::string reply = "_INBOX.unread." + name;
      natsConnection_PublishRequest(conn_.raw(), subject.c_str(), reply.c_str(), nullptr, 0);
      continue;
    }
    js_DeleteConsumer(js, stream.c_str(), name.c_str(), nullptr, &jerr);  // gone already: fine
  }

  // Our own inbox instead of js_PullSubscribe: the window's requests are ours to send and count.
  w.next_subject = "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + w.name;
  s = natsConnection_SubscribeSync(&sub_, conn_.raw(), (w.inbox + ".*").c_str());
  if (s != NATS_OK) throw NatsError("subscribe " + w.name + ": " + describe(s), s);
  w.rebind = false;
}

std::uint64_t PullConsumer::pull_requests() const {
  return window_->requests_sent;
}
const std::string& PullConsumer::consumer_name() const {
  return window_->name;
}
std::uint64_t PullConsumer::delivery_gaps() const {
  return window_->gaps;
}

// Whether the connection was re-established since the last look: deliveries in flight then were
// lost (and nats-server may have restarted and lost our request), so a later message's AckAll
// could cover messages we never got: start again at the ack floor.
bool PullConsumer::reconnected() {
  auto& w = *window_;
  std::uint64_t reconnects = w.reconnects;
  if (natsConnection_GetStats(conn_.raw(), w.stats) == NATS_OK) {
    natsStatistics_GetCounts(w.stats, nullptr, nullptr, nullptr, nullptr, &reconnects);
  }
  if (reconnects == w.reconnects) return false;
  w.reconnects = reconnects;
  return true;
}

// Sends a new pull request when none is outstanding or the current one is about to lapse.
void PullConsumer::top_up(int batch, std::chrono::steady_clock::time_point now) {
  auto& w = *window_;
  if (now - w.heard > options_.rebind_after_silence) {
    w.rebind = true;
    throw NatsError("pull " + w.name + ": no answer for " +
                    std::to_string(options_.rebind_after_silence.count()) + " ms: binding anew");
  }
  if (w.pull_id != 0 && now < w.lapses) return;
  if (w.pull_id == 0 && now < w.retry_at) return;
  char body[96];
  const long long expires_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Window::kExpiry).count();
  int len = std::snprintf(body, sizeof body, "{\"batch\":%d,\"expires\":%lld}", batch, expires_ns);
  char reply[128];
  std::snprintf(reply, sizeof reply, "%s.%llu", w.inbox.c_str(),
                static_cast<unsigned long long>(w.next_id));
  natsStatus s =
      natsConnection_PublishRequest(conn_.raw(), w.next_subject.c_str(), reply, body, len);
  if (s != NATS_OK) throw NatsError("pull request " + w.name + ": " + describe(s), s);
  w.pull_id = w.next_id++;
  w.remaining = batch;
  w.lapses = now + Window::kExpiry - Window::kRenewEarly;
  ++w.requests_sent;
}

// One message from the inbox: a delivery (appended to out) or a status for one of our requests.
void PullConsumer::take(natsMsg* raw, std::vector<Message>& out) {
  auto& w = *window_;
  Message m(raw);  // owns raw from here
  w.heard = Window::Clock::now();
  if (m.stream_sequence() != 0) {
    const auto d = m.delivery_sequence();
    if (d != 0 && d != w.delivered + 1) {
      // Deliveries lost (or repeated) across a leader change: this one and the rest are dropped.
      ++w.gaps;
      w.rebind = true;
      return;
    }
    if (d != 0) w.delivered = d;
    w.leaderless_since = {};
    if (w.pull_id != 0 && --w.remaining <= 0) w.pull_id = 0;
    out.push_back(std::move(m));
    return;
  }
  const auto status = status_of(raw);
  if (status == "503") {
    no_leader();
    return;
  }
  w.leaderless_since = {};      // the consumer's leader answered
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
    return;  // e.g. "Exceeded MaxWaiting", "Server Shutdown", "Leadership Change": replaced
  }
}

// A request answered "no responders": the consumer has no leader now (an election) or is gone.
void PullConsumer::no_leader() {
  auto& w = *window_;
  const auto now = Window::Clock::now();
  w.pull_id = 0;
  w.retry_at = now + Window::kRetryNoLeader;
  if (w.leaderless_since == Window::Clock::time_point{}) w.leaderless_since = now;
  if (now - w.leaderless_since < options_.rebind_after_no_responders) return;
  w.rebind = true;
  throw NatsError("pull " + w.name + ": no responders for " +
                  std::to_string(options_.rebind_after_no_responders.count()) +
                  " ms: binding anew");
}

// Takes the next message from the inbox, waiting up to `wait`; false on time-out.
bool PullConsumer::next(std::chrono::milliseconds wait, std::vector<Message>& out) {
  auto& w = *window_;
  natsMsg* raw = nullptr;
  natsStatus s = natsSubscription_NextMsg(&raw, sub_, wait.count());
  if (s == NATS_TIMEOUT) return false;
  if (s == NATS_NO_RESPONDERS) {
    no_leader();  // nothing was queued
    return true;
  }
  if (s != NATS_OK) throw NatsError("fetch " + w.name + ": " + describe(s), s);
  take(raw, out);
  return true;
}

// Takes what has arrived (or waits for the first message up to `timeout`) and keeps the window
// topped up, so the server has requests to deliver into while the caller applies this batch.
std::vector<Message> PullConsumer::fetch(int batch, std::chrono::milliseconds timeout) {
  using Clock = Window::Clock;
  using std::chrono::milliseconds;
  auto& w = *window_;
  if (batch < 1) batch = 1;
  const auto deadline = Clock::now() + timeout;
  if (reconnected()) w.rebind = true;
  if (w.rebind) bind();

  std::vector<Message> out;
  auto drain = [&] {
    while (static_cast<int>(out.size()) < batch && !w.rebind && next(milliseconds(0), out)) {
    }
  };
  top_up(batch, Clock::now());
  drain();  // what is there already
  // Otherwise wait for the first message, renewing requests that come due meanwhile.
  while (out.empty() && !w.rebind) {
    auto now = Clock::now();
    if (now >= deadline) break;
    top_up(batch, now);
    auto until = std::min(deadline, w.pull_id != 0 ? w.lapses : w.retry_at);
    auto wait = std::max(std::chrono::duration_cast<milliseconds>(until - now), milliseconds(0)) +
                milliseconds(1);
    next(wait, out);
    if (!out.empty()) drain();
  }
  // A delivery gap: what came before it is good; the next fetch binds at the ack floor.
  if (w.rebind) return out;
  if (reconnected()) {
    // Some of these may follow a gap: drop them, the next fetch starts at the ack floor.
    w.rebind = true;
    out.clear();
    return out;
  }
  top_up(batch, Clock::now());
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
  if (s != NATS_OK) throw NatsError("ack: " + describe(s), s);
}

// The batch and everything after it must come again, in order: start a new generation at the ack
// floor before the next fetch (a nak would put the batch behind messages already on their way).
void PullConsumer::nak(const std::vector<Message>& msgs) {
  if (!msgs.empty()) window_->rebind = true;
}

}  // namespace orders::nats
