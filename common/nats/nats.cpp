#include "common/nats/nats.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <utility>

#include <nats/nats.h>

namespace orders::nats {
namespace {

std::string describe(const std::string& what, natsStatus s,
                     jsErrCode code = static_cast<jsErrCode>(0)) {
  std::string text = what + ": " + natsStatus_GetText(s);
  if (code != 0) text += " (jetstream error " + std::to_string(static_cast<int>(code)) + ")";
  return text;
}

[[noreturn]] void fail(const std::string& what, natsStatus s,
                       jsErrCode code = static_cast<jsErrCode>(0)) {
  throw NatsError(describe(what, s, code), static_cast<int>(s), static_cast<int>(code));
}

void check(natsStatus s, const std::string& what, jsErrCode code = static_cast<jsErrCode>(0)) {
  if (s != NATS_OK) fail(what, s, code);
}

std::int64_t ms(std::chrono::milliseconds d) {
  return static_cast<std::int64_t>(d.count());
}
std::int64_t ns(std::chrono::milliseconds d) {
  return static_cast<std::int64_t>(d.count()) * 1000000;
}

std::string msg_id_of(natsMsg* m) {
  const char* v = nullptr;
  if (m != nullptr && natsMsgHeader_Get(m, "Nats-Msg-Id", &v) == NATS_OK && v != nullptr) return v;
  return {};
}

StreamInfo to_info(const jsStreamInfo* si) {
  StreamInfo info;
  if (si->Config != nullptr && si->Config->Name != nullptr) info.name = si->Config->Name;
  info.first_seq = si->State.FirstSeq;
  info.last_seq = si->State.LastSeq;
  info.msgs = si->State.Msgs;
  info.bytes = si->State.Bytes;
  info.consumers = si->State.Consumers;
  return info;
}

struct StreamInfoPtr {
  jsStreamInfo* p = nullptr;
  ~StreamInfoPtr() {
    if (p != nullptr) jsStreamInfo_Destroy(p);
  }
};

}  // namespace

bool NatsError::timeout() const {
  return status == NATS_TIMEOUT;
}
bool NatsError::not_found() const {
  return status == NATS_NOT_FOUND || js_error_code == JSStreamNotFoundErr ||
         js_error_code == JSConsumerNotFoundErr;
}

std::string subject_prefix_for_stream(std::string_view stream_name) {
  std::string s(stream_name);
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s + ".events";
}
std::string subjects_for_stream(std::string_view stream_name) {
  return subject_prefix_for_stream(stream_name) + ".>";
}

// ---------------------------------------------------------------------------------- connection
struct Connection::Impl {
  natsConnection* nc = nullptr;
  std::function<void(bool)> on_change;
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;  // the closed callback ran: cnats will not call us again

  ~Impl() {
    if (nc == nullptr) return;
    // cnats delivers the disconnected/closed callbacks on its own thread, after Close returns:
    // wait for the last one before this closure goes away.
    natsConnection_Close(nc);
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, std::chrono::seconds(5), [this] { return closed; });
    }
    natsConnection_Destroy(nc);
  }
  static void on_disconnected(natsConnection*, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    if (self->on_change) self->on_change(false);
  }
  static void on_reconnected(natsConnection*, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    if (self->on_change) self->on_change(true);
  }
  static void on_closed(natsConnection*, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    std::lock_guard lock(self->mu);
    self->closed = true;
    self->cv.notify_all();
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

Connection Connection::connect(const ConnectOptions& o) {
  auto impl = std::make_unique<Impl>();
  impl->on_change = o.on_connection_change;
  natsOptions* opts = nullptr;
  check(natsOptions_Create(&opts), "natsOptions_Create");
  struct OptsGuard {
    natsOptions* p;
    ~OptsGuard() { natsOptions_Destroy(p); }
  } guard{opts};
  check(natsOptions_SetURL(opts, o.url.c_str()), "nats url " + o.url);
  if (!o.name.empty()) check(natsOptions_SetName(opts, o.name.c_str()), "nats name");
  check(natsOptions_SetTimeout(opts, ms(o.connect_timeout)), "nats timeout");
  check(natsOptions_SetAllowReconnect(opts, true), "nats reconnect");
  check(natsOptions_SetMaxReconnect(opts, o.max_reconnect), "nats max reconnect");
  check(natsOptions_SetReconnectWait(opts, ms(o.reconnect_wait)), "nats reconnect wait");
  check(natsOptions_SetPingInterval(opts, ms(o.ping_interval)), "nats ping interval");
  check(natsOptions_SetReconnectBufSize(opts, o.reconnect_buffer_bytes), "nats reconnect buffer");
  check(natsOptions_SetDisconnectedCB(opts, &Impl::on_disconnected, impl.get()), "nats cb");
  check(natsOptions_SetReconnectedCB(opts, &Impl::on_reconnected, impl.get()), "nats cb");
  check(natsOptions_SetClosedCB(opts, &Impl::on_closed, impl.get()), "nats cb");
  check(natsConnection_Connect(&impl->nc, opts), "connect to " + o.url);
  return Connection(std::move(impl));
}

Connection Connection::connect(const std::string& url, const std::string& name) {
  ConnectOptions o;
  o.url = url;
  o.name = name;
  return connect(o);
}

bool Connection::connected() const {
  return impl_ && impl_->nc != nullptr &&
         natsConnection_Status(impl_->nc) == NATS_CONN_STATUS_CONNECTED;
}
bool Connection::closed() const {
  return !impl_ || impl_->nc == nullptr || natsConnection_IsClosed(impl_->nc);
}
void Connection::flush(std::chrono::milliseconds timeout) {
  check(natsConnection_FlushTimeout(impl_->nc, ms(timeout)), "nats flush");
}
void Connection::publish(std::string_view subject, std::string_view data) {
  std::string subj(subject);
  check(natsConnection_Publish(impl_->nc, subj.c_str(), data.data(), static_cast<int>(data.size())),
        "nats publish " + subj);
}
natsConnection* Connection::raw() const {
  return impl_ ? impl_->nc : nullptr;
}

// ------------------------------------------------------------------------------------- message
Message::Message(natsMsg* msg) : msg_(msg) {}
Message::Message(Message&& o) noexcept : msg_(std::exchange(o.msg_, nullptr)), meta_(o.meta_) {}
Message& Message::operator=(Message&& o) noexcept {
  if (this != &o) {
    if (msg_ != nullptr) natsMsg_Destroy(msg_);
    msg_ = std::exchange(o.msg_, nullptr);
    meta_ = o.meta_;
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
void Message::load_meta() const {
  if (meta_.loaded) return;
  meta_.loaded = true;
  jsMsgMetaData* m = nullptr;
  if (natsMsg_GetMetaData(&m, msg_) == NATS_OK && m != nullptr) {
    meta_.stream_seq = m->Sequence.Stream;
    meta_.consumer_seq = m->Sequence.Consumer;
    meta_.delivered = m->NumDelivered;
    meta_.pending = m->NumPending;
    meta_.timestamp = m->Timestamp;
    jsMsgMetaData_Destroy(m);
  } else {
    // A message read with js_GetMsg carries its sequence directly.
    meta_.stream_seq = natsMsg_GetSequence(msg_);
    meta_.timestamp = natsMsg_GetTime(msg_);
  }
}
std::uint64_t Message::stream_seq() const {
  return (load_meta(), meta_.stream_seq);
}
std::uint64_t Message::consumer_seq() const {
  return (load_meta(), meta_.consumer_seq);
}
std::uint64_t Message::num_delivered() const {
  return (load_meta(), meta_.delivered);
}
std::uint64_t Message::num_pending() const {
  return (load_meta(), meta_.pending);
}
std::int64_t Message::timestamp_ns() const {
  return (load_meta(), meta_.timestamp);
}
void Message::ack() {
  check(natsMsg_Ack(msg_, nullptr), "ack");
}
void Message::ack_sync(std::chrono::milliseconds timeout) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = ms(timeout);
  jsErrCode code = static_cast<jsErrCode>(0);
  check(natsMsg_AckSync(msg_, &o, &code), "ack sync", code);
}
void Message::nak(std::optional<std::chrono::milliseconds> delay) {
  if (delay) {
    check(natsMsg_NakWithDelay(msg_, ms(*delay), nullptr), "nak");
  } else {
    check(natsMsg_Nak(msg_, nullptr), "nak");
  }
}
void Message::in_progress() {
  check(natsMsg_InProgress(msg_, nullptr), "in progress");
}
void Message::term() {
  check(natsMsg_Term(msg_, nullptr), "term");
}

// ------------------------------------------------------------------------------ subscription
struct PullSubscription::Impl {
  natsSubscription* sub = nullptr;
  ~Impl() {
    if (sub != nullptr) natsSubscription_Destroy(sub);
  }
};
PullSubscription::PullSubscription(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PullSubscription::PullSubscription(PullSubscription&&) noexcept = default;
PullSubscription& PullSubscription::operator=(PullSubscription&&) noexcept = default;
PullSubscription::~PullSubscription() = default;

namespace {
std::vector<Message> take_list(natsMsgList& list) {
  std::vector<Message> out;
  out.reserve(static_cast<std::size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    out.emplace_back(list.Msgs[i]);
    list.Msgs[i] = nullptr;  // now owned by Message
  }
  natsMsgList_Destroy(&list);
  return out;
}
}  // namespace

std::vector<Message> PullSubscription::fetch(int batch, std::chrono::milliseconds timeout) {
  natsMsgList list{nullptr, 0};
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = natsSubscription_Fetch(&list, impl_->sub, batch, ms(timeout), &code);
  if (s == NATS_TIMEOUT || (s == NATS_NOT_FOUND && code == 0)) {
    return take_list(list);  // may still hold what arrived before the deadline
  }
  if (s != NATS_OK) {
    natsMsgList_Destroy(&list);
    fail("fetch", s, code);
  }
  return take_list(list);
}

std::vector<Message> PullSubscription::fetch_no_wait(int batch, std::chrono::milliseconds timeout) {
  natsMsgList list{nullptr, 0};
  jsFetchRequest req;
  jsFetchRequest_Init(&req);
  req.Batch = batch;
  req.NoWait = true;
  req.Expires = ns(timeout);
  natsStatus s = natsSubscription_FetchRequest(&list, impl_->sub, &req);
  if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) return take_list(list);
  if (s != NATS_OK) {
    natsMsgList_Destroy(&list);
    fail("fetch", s);
  }
  return take_list(list);
}

void PullSubscription::unsubscribe() {
  if (impl_ && impl_->sub != nullptr)
    check(natsSubscription_Unsubscribe(impl_->sub), "unsubscribe");
}
natsSubscription* PullSubscription::raw() const {
  return impl_ ? impl_->sub : nullptr;
}

// --------------------------------------------------------------------------------- JetStream
struct JetStream::Impl {
  jsCtx* js = nullptr;
  JetStreamOptions opts;
  std::mutex mu;
  std::vector<PubResult> results;
  std::atomic<std::int64_t> pending{0};
  bool ever_async = false;  // set by publish_async (owner thread)

  ~Impl() {
    if (js != nullptr) {
      // (cnats 3.4.1 crashes in GetPendingList when nothing was ever published async.)
      natsMsgList list{nullptr, 0};
      if (ever_async && js_PublishAsyncGetPendingList(&list, js) == NATS_OK)
        natsMsgList_Destroy(&list);
      jsCtx_Destroy(js);
    }
  }

  jsOptions api_options() const {
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = ms(opts.api_timeout);
    return o;
  }

  static void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    PubResult r;
    r.msg_id = msg_id_of(msg);
    if (pa != nullptr) {
      r.ok = true;
      r.sequence = pa->Sequence;
      r.duplicate = pa->Duplicate;
    } else if (pae != nullptr) {
      r.status = static_cast<int>(pae->Err);
      r.js_error_code = static_cast<int>(pae->ErrCode);
      r.error = pae->ErrText != nullptr ? pae->ErrText : natsStatus_GetText(pae->Err);
    }
    {
      std::lock_guard lock(self->mu);
      self->results.push_back(std::move(r));
    }
    self->pending.fetch_sub(1);
    natsMsg_Destroy(msg);
  }
};

JetStream::JetStream(Connection& conn, const JetStreamOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->opts = options;
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = ms(options.api_timeout);
  o.PublishAsync.MaxPending = options.max_pending;
  o.PublishAsync.StallWait = ms(options.stall_wait);
  o.PublishAsync.AckHandler = &Impl::on_ack;
  o.PublishAsync.AckHandlerClosure = impl_.get();
  check(natsConnection_JetStream(&impl_->js, conn.raw(), &o), "jetstream context");
}
JetStream::JetStream(JetStream&&) noexcept = default;
JetStream& JetStream::operator=(JetStream&&) noexcept = default;
JetStream::~JetStream() = default;
jsCtx* JetStream::raw() const {
  return impl_->js;
}

std::optional<StreamInfo> JetStream::stream_info(const std::string& stream) {
  jsOptions o = impl_->api_options();
  StreamInfoPtr si;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si.p, impl_->js, stream.c_str(), &o, &code);
  if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) return std::nullopt;
  check(s, "stream info " + stream, code);
  return to_info(si.p);
}

StreamInfo JetStream::ensure_stream(const StreamSpec& spec) {
  std::vector<std::string> subjects = spec.subjects;
  if (subjects.empty()) subjects.push_back(subjects_for_stream(spec.name));
  std::vector<const char*> subj_ptrs;
  for (const auto& s : subjects) subj_ptrs.push_back(s.c_str());

  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = spec.name.c_str();
  cfg.Subjects = subj_ptrs.data();
  cfg.SubjectsLen = static_cast<int>(subj_ptrs.size());
  cfg.Storage = spec.file_storage ? js_FileStorage : js_MemoryStorage;
  cfg.Duplicates = ns(spec.duplicate_window);
  cfg.Replicas = spec.replicas;

  jsOptions o = impl_->api_options();
  for (int attempt = 0; attempt < 2; ++attempt) {
    StreamInfoPtr si;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si.p, impl_->js, spec.name.c_str(), &o, &code);
    if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
      StreamInfoPtr created;
      code = static_cast<jsErrCode>(0);
      s = js_AddStream(&created.p, impl_->js, &cfg, &o, &code);
      if (code == JSStreamNameExistErr) continue;  // created concurrently: read it again
      check(s, "add stream " + spec.name, code);
      return to_info(created.p);
    }
    check(s, "stream info " + spec.name, code);
    const jsStreamConfig* cur = si.p->Config;
    bool same = cur != nullptr && cur->SubjectsLen == cfg.SubjectsLen &&
                cur->Duplicates == cfg.Duplicates && cur->Storage == cfg.Storage;
    for (int i = 0; same && i < cfg.SubjectsLen; ++i)
      same = std::string(cur->Subjects[i]) == subjects[i];
    if (same) return to_info(si.p);
    StreamInfoPtr updated;
    code = static_cast<jsErrCode>(0);
    check(js_UpdateStream(&updated.p, impl_->js, &cfg, &o, &code), "update stream " + spec.name,
          code);
    return to_info(updated.p);
  }
  fail("ensure stream " + spec.name, NATS_ERR);
}

void JetStream::delete_stream(const std::string& stream) {
  jsOptions o = impl_->api_options();
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteStream(impl_->js, stream.c_str(), &o, &code);
  if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) return;
  check(s, "delete stream " + stream, code);
}

namespace {
struct MsgGuard {
  natsMsg* p = nullptr;
  MsgGuard() = default;
  MsgGuard(MsgGuard&& o) noexcept : p(std::exchange(o.p, nullptr)) {}
  MsgGuard(const MsgGuard&) = delete;
  MsgGuard& operator=(const MsgGuard&) = delete;
  MsgGuard& operator=(MsgGuard&&) = delete;
  ~MsgGuard() {
    if (p != nullptr) natsMsg_Destroy(p);
  }
};
}  // namespace

namespace {
// The message and options both publish paths send: Nats-Msg-Id and expected last sequence.
// po.MsgId points into msg, which outlives the publish call.
MsgGuard create_message(const OutMessage& msg) {
  MsgGuard m;
  check(natsMsg_Create(&m.p, msg.subject.c_str(), nullptr, msg.data.data(),
                       static_cast<int>(msg.data.size())),
        "create message");
  return m;
}

jsPubOptions publish_options(const OutMessage& msg, std::chrono::milliseconds ack_wait) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  if (!msg.msg_id.empty()) po.MsgId = msg.msg_id.c_str();
  if (msg.expect_last_seq && *msg.expect_last_seq > 0) po.ExpectLastSeq = *msg.expect_last_seq;
  po.MaxWait = ms(ack_wait);
  return po;
}
}  // namespace

PubResult JetStream::publish(const OutMessage& msg) {
  MsgGuard m = create_message(msg);
  jsPubOptions po = publish_options(msg, impl_->opts.publish_ack_wait);
  jsPubAck* pa = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_PublishMsg(&pa, impl_->js, m.p, &po, &code);
  PubResult r;
  r.msg_id = msg.msg_id;
  if (s == NATS_OK && pa != nullptr) {
    r.ok = true;
    r.sequence = pa->Sequence;
    r.duplicate = pa->Duplicate;
  } else {
    r.status = static_cast<int>(s);
    r.js_error_code = static_cast<int>(code);
    r.error = describe("publish", s, code);
  }
  if (pa != nullptr) jsPubAck_Destroy(pa);
  return r;
}

void JetStream::publish_async(const OutMessage& msg) {
  MsgGuard m = create_message(msg);
  jsPubOptions po = publish_options(msg, impl_->opts.publish_ack_wait);
  impl_->pending.fetch_add(1);
  impl_->ever_async = true;
  natsStatus s = js_PublishMsgAsync(impl_->js, &m.p, &po);  // on success m.p becomes NULL
  if (s != NATS_OK) {
    impl_->pending.fetch_sub(1);
    fail("publish async " + msg.subject, s);
  }
}

std::vector<PubResult> JetStream::wait_async(std::chrono::milliseconds timeout) {
  if (!impl_->ever_async) return {};
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = std::max<std::int64_t>(1, ms(timeout));
  natsStatus s = js_PublishAsyncComplete(impl_->js, &po);
  std::vector<PubResult> out;
  if (s != NATS_OK) {
    // Abandon what is still unanswered; the ack handler will not be called for these.
    natsMsgList list{nullptr, 0};
    if (js_PublishAsyncGetPendingList(&list, impl_->js) == NATS_OK) {
      for (int i = 0; i < list.Count; ++i) {
        PubResult r;
        r.msg_id = msg_id_of(list.Msgs[i]);
        r.status = NATS_TIMEOUT;
        r.error = "no publish ack before the deadline";
        out.push_back(std::move(r));
        impl_->pending.fetch_sub(1);
      }
      natsMsgList_Destroy(&list);
    }
  }
  std::vector<PubResult> done;
  {
    std::lock_guard lock(impl_->mu);
    done.swap(impl_->results);
  }
  done.insert(done.end(), std::make_move_iterator(out.begin()), std::make_move_iterator(out.end()));
  return done;
}

std::int64_t JetStream::async_pending() const {
  return impl_->pending.load();
}

PullSubscription JetStream::pull_subscribe(const ConsumerSpec& spec) {
  jsOptions o = impl_->api_options();
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = spec.stream.c_str();
  std::string subject =
      spec.filter_subject.empty() ? subjects_for_stream(spec.stream) : spec.filter_subject;
  if (!spec.durable.empty()) so.Config.Durable = spec.durable.c_str();
  if (!spec.filter_subject.empty()) so.Config.FilterSubject = spec.filter_subject.c_str();
  switch (spec.ack_policy) {
    case AckPolicy::Explicit:
      so.Config.AckPolicy = js_AckExplicit;
      break;
    case AckPolicy::All:
      so.Config.AckPolicy = js_AckAll;
      break;
    case AckPolicy::None:
      so.Config.AckPolicy = js_AckNone;
      break;
  }
  switch (spec.deliver_policy) {
    case DeliverPolicy::All:
      so.Config.DeliverPolicy = js_DeliverAll;
      break;
    case DeliverPolicy::New:
      so.Config.DeliverPolicy = js_DeliverNew;
      break;
    case DeliverPolicy::Last:
      so.Config.DeliverPolicy = js_DeliverLast;
      break;
    case DeliverPolicy::ByStartSequence:
      so.Config.DeliverPolicy = js_DeliverByStartSequence;
      so.Config.OptStartSeq = spec.start_seq;
      break;
  }
  so.Config.AckWait = ns(spec.ack_wait);
  so.Config.MaxAckPending = spec.max_ack_pending;
  so.Config.MaxDeliver = spec.max_deliver;
  auto impl = std::make_unique<PullSubscription::Impl>();
  jsErrCode code = static_cast<jsErrCode>(0);
  check(js_PullSubscribe(&impl->sub, impl_->js, subject.c_str(),
                         spec.durable.empty() ? nullptr : spec.durable.c_str(), &o, &so, &code),
        "pull subscribe " + spec.stream + "/" + spec.durable, code);
  return PullSubscription(std::move(impl));
}

void JetStream::delete_consumer(const std::string& stream, const std::string& consumer) {
  jsOptions o = impl_->api_options();
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteConsumer(impl_->js, stream.c_str(), consumer.c_str(), &o, &code);
  if (s == NATS_NOT_FOUND || code == JSConsumerNotFoundErr) return;
  check(s, "delete consumer " + consumer, code);
}

std::optional<Message> JetStream::get_message(const std::string& stream, std::uint64_t seq) {
  jsOptions o = impl_->api_options();
  natsMsg* m = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetMsg(&m, impl_->js, stream.c_str(), seq, &o, &code);
  if (s == NATS_NOT_FOUND || code == JSNoMessageFoundErr) return std::nullopt;
  check(s, "get message " + stream + "#" + std::to_string(seq), code);
  return Message(m);
}

}  // namespace orders::nats
