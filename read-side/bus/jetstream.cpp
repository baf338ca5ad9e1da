#include "bus/jetstream.hpp"

#include <cctype>
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

Message::Message(natsMsg* m) : msg_(m) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg_) == NATS_OK && meta) {
    stream_seq_ = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
  }
}
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

PullConsumer::PullConsumer(Connection& conn, ConsumerOptions options)
    : conn_(conn), options_(std::move(options)) {
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
    // A replica racing us may have created it first: fine, bind below.
    if (s != NATS_OK && jerr != JSConsumerNameExistErr) {
      throw NatsError("create consumer " + options_.durable + ": " + describe(s, jerr));
    }
  } else if (s != NATS_OK) {
    throw NatsError("consumer info " + options_.durable + ": " + describe(s, jerr));
  }
  if (ci) jsConsumerInfo_Destroy(ci);

  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = conn_.stream().c_str();
  so.Consumer = options_.durable.c_str();
  jerr = static_cast<jsErrCode>(0);
  s = js_PullSubscribe(&sub_, conn_.js(), options_.filter_subject.c_str(), options_.durable.c_str(),
                       nullptr, &so, &jerr);
  if (s != NATS_OK) throw NatsError("pull subscribe " + options_.durable + ": " + describe(s, jerr));
}

PullConsumer::~PullConsumer() {
  // Bound to a consumer the library did not create: destroying the subscription keeps it.
  if (sub_) natsSubscription_Destroy(sub_);
}

namespace {

// One pull request. no_wait: the server answers at once (messages, or 404 when none: empty).
// Otherwise it waits up to `wait` for `batch` messages.
std::vector<Message> pull(natsSubscription* sub, const std::string& durable, int batch, bool no_wait,
                          std::chrono::milliseconds wait) {
  jsFetchRequest req;
  jsFetchRequest_Init(&req);
  req.Batch = batch;
  req.NoWait = no_wait;
  req.Expires = static_cast<int64_t>(wait.count()) * 1'000'000;
  natsMsgList list{};
  natsStatus s = natsSubscription_FetchRequest(&list, sub, &req);
  std::vector<Message> out;
  if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) {
    natsMsgList_Destroy(&list);
    return out;
  }
  if (s != NATS_OK) {
    natsMsgList_Destroy(&list);
    throw NatsError("fetch " + durable + ": " + describe(s));
  }
  out.reserve(static_cast<std::size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    out.emplace_back(list.Msgs[i]);
    list.Msgs[i] = nullptr;  // ownership moved
  }
  natsMsgList_Destroy(&list);
  return out;
}

}  // namespace

// natsSubscription_Fetch's long poll returns only when the whole batch is in or the time-out
// passes, which would add up to `timeout` of latency to a trickle of events. Instead: take what
// is there now (no wait); when nothing is, long-poll for ONE message, then take what followed it.
std::vector<Message> PullConsumer::fetch(int batch, std::chrono::milliseconds timeout) {
  constexpr auto kAnswerWait = std::chrono::milliseconds(2000);  // for the server's reply only
  auto msgs = pull(sub_, options_.durable, batch, true, kAnswerWait);
  if (!msgs.empty()) return msgs;
  msgs = pull(sub_, options_.durable, 1, false, timeout);
  if (msgs.empty() || batch <= 1) return msgs;
  auto more = pull(sub_, options_.durable, batch - 1, true, kAnswerWait);
  for (auto& m : more) msgs.push_back(std::move(m));
  return msgs;
}

void PullConsumer::ack(const std::vector<Message>& msgs) {
  for (const auto& m : msgs) {
    natsStatus s = natsMsg_Ack(m.raw(), nullptr);
    if (s != NATS_OK) throw NatsError("ack: " + describe(s));
  }
}

void PullConsumer::nak(const std::vector<Message>& msgs) {
  for (const auto& m : msgs) natsMsg_Nak(m.raw(), nullptr);
}

}  // namespace orders::read_side::bus
