#include "common/nats/publisher.hpp"

#include <algorithm>
#include <mutex>
#include <utility>

#include "common/nats/detail/status.hpp"

namespace orders::nats {

using detail::check;
using detail::ms;

namespace {

std::string msg_id_of(natsMsg* m) {
  const char* v = nullptr;
  if (m != nullptr && natsMsgHeader_Get(m, "Nats-Msg-Id", &v) == NATS_OK && v != nullptr) return v;
  return {};
}

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

MsgGuard create_message(const OutMessage& msg) {
  MsgGuard m;
  check(natsMsg_Create(&m.p, msg.subject.c_str(), nullptr, msg.data.data(),
                       static_cast<int>(msg.data.size())),
        "create message");
  for (const auto& [name, value] : msg.headers) {
    check(natsMsgHeader_Set(m.p, name.c_str(), value.c_str()), "set message header");
  }
  return m;
}

// Nats-Msg-Id and the expected last sequence; po.MsgId points into msg, which outlives the call.
jsPubOptions publish_options(const OutMessage& msg, std::chrono::milliseconds ack_wait) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  if (!msg.msg_id.empty()) po.MsgId = msg.msg_id.c_str();
  if (msg.expect_last_seq && *msg.expect_last_seq > 0) po.ExpectLastSeq = *msg.expect_last_seq;
  po.MaxWait = ms(ack_wait);
  return po;
}

}  // namespace

struct Publisher::Impl {
  jsCtx* js = nullptr;
  PublisherOptions opts;
  std::mutex mu;
  std::vector<PubResult> results;
  std::atomic<std::int64_t> pending{0};
  bool ever_async = false;  // set by publish_async (owner thread)

  ~Impl() {
    if (js == nullptr) return;
    // (cnats 3.4.1 crashes in GetPendingList when nothing was ever published async.)
    natsMsgList list{nullptr, 0};
    if (ever_async && js_PublishAsyncGetPendingList(&list, js) == NATS_OK)
      natsMsgList_Destroy(&list);
    jsCtx_Destroy(js);
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

  // Reports what is still unanswered as failed; the ack handler will not be called for these.
  void abandon_pending(std::vector<PubResult>& out) {
    natsMsgList list{nullptr, 0};
    if (js_PublishAsyncGetPendingList(&list, js) != NATS_OK) return;
    for (int i = 0; i < list.Count; ++i) {
      PubResult r;
      r.msg_id = msg_id_of(list.Msgs[i]);
      r.status = NATS_TIMEOUT;
      r.error = "no publish ack before the deadline";
      out.push_back(std::move(r));
      pending.fetch_sub(1);
    }
    natsMsgList_Destroy(&list);
  }
};

Publisher::Publisher(Connection& conn, const PublisherOptions& options)
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
Publisher::Publisher(Publisher&&) noexcept = default;
Publisher& Publisher::operator=(Publisher&&) noexcept = default;
Publisher::~Publisher() = default;

PubResult Publisher::publish(const OutMessage& msg) {
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
    r.error = detail::describe("publish", s, code);
  }
  if (pa != nullptr) jsPubAck_Destroy(pa);
  return r;
}

void Publisher::publish_async(const OutMessage& msg) {
  MsgGuard m = create_message(msg);
  jsPubOptions po = publish_options(msg, impl_->opts.publish_ack_wait);
  impl_->pending.fetch_add(1);
  impl_->ever_async = true;
  natsStatus s = js_PublishMsgAsync(impl_->js, &m.p, &po);  // on success m.p becomes NULL
  if (s != NATS_OK) {
    impl_->pending.fetch_sub(1);
    detail::fail("publish async " + msg.subject, s);
  }
}

std::vector<PubResult> Publisher::wait_async(std::chrono::milliseconds timeout) {
  if (!impl_->ever_async) return {};
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = std::max<std::int64_t>(1, ms(timeout));
  std::vector<PubResult> abandoned;
  if (js_PublishAsyncComplete(impl_->js, &po) != NATS_OK) impl_->abandon_pending(abandoned);
  std::vector<PubResult> done;
  {
    std::lock_guard lock(impl_->mu);
    done.swap(impl_->results);
  }
  done.insert(done.end(), std::make_move_iterator(abandoned.begin()),
              std::make_move_iterator(abandoned.end()));
  return done;
}

std::int64_t Publisher::async_pending() const {
  return impl_->pending.load();
}

}  // namespace orders::nats
