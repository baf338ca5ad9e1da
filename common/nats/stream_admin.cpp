#include "common/nats/stream_admin.hpp"

#include <utility>

#include "common/codec/bus_envelope.hpp"
#include "common/nats/detail/status.hpp"

namespace orders::nats {

using detail::check;
using detail::ms;
using detail::ns;

namespace {

StreamInfo to_info(const jsStreamInfo* si) {
  StreamInfo info;
  if (si->Config != nullptr) {
    if (si->Config->Name != nullptr) info.name = si->Config->Name;
    for (int i = 0; i < si->Config->SubjectsLen; ++i)
      info.subjects.emplace_back(si->Config->Subjects[i]);
    info.duplicate_window = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds(si->Config->Duplicates));
    info.max_age = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds(si->Config->MaxAge));
    info.max_bytes = si->Config->MaxBytes;
  }
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

jsOptions api_options(std::chrono::milliseconds timeout) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = ms(timeout);
  return o;
}

bool same_config(const jsStreamConfig* cur, const jsStreamConfig& want,
                 const std::vector<std::string>& subjects) {
  bool same = cur != nullptr && cur->SubjectsLen == want.SubjectsLen &&
              cur->Duplicates == want.Duplicates && cur->Storage == want.Storage &&
              cur->Replicas == want.Replicas && cur->MaxAge == want.MaxAge &&
              cur->MaxBytes == want.MaxBytes;
  for (int i = 0; same && i < want.SubjectsLen; ++i) {
    same = std::string(cur->Subjects[i]) == subjects[static_cast<std::size_t>(i)];
  }
  return same;
}

}  // namespace

StreamAdmin::StreamAdmin(Connection& conn, std::chrono::milliseconds api_timeout)
    : api_timeout_(api_timeout) {
  jsOptions o = api_options(api_timeout);
  check(natsConnection_JetStream(&js_, conn.raw(), &o), "jetstream context");
}
StreamAdmin::StreamAdmin(StreamAdmin&& o) noexcept
    : js_(std::exchange(o.js_, nullptr)), api_timeout_(o.api_timeout_) {}
StreamAdmin& StreamAdmin::operator=(StreamAdmin&& o) noexcept {
  if (this != &o) {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    js_ = std::exchange(o.js_, nullptr);
    api_timeout_ = o.api_timeout_;
  }
  return *this;
}
StreamAdmin::~StreamAdmin() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
}

std::optional<StreamInfo> StreamAdmin::stream_info(const std::string& stream) {
  jsOptions o = api_options(api_timeout_);
  StreamInfoPtr si;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si.p, js_, stream.c_str(), &o, &code);
  if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) return std::nullopt;
  check(s, "stream info " + stream, code);
  return to_info(si.p);
}

StreamInfo StreamAdmin::ensure_stream(const StreamSpec& spec) {
  std::vector<std::string> subjects = spec.subjects;
  if (subjects.empty()) subjects.push_back(codec::stream_subject_filter(spec.name));
  std::vector<const char*> subj_ptrs;
  subj_ptrs.reserve(subjects.size());
  for (const auto& s : subjects) subj_ptrs.push_back(s.c_str());

  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = spec.name.c_str();
  cfg.Subjects = subj_ptrs.data();
  cfg.SubjectsLen = static_cast<int>(subj_ptrs.size());
  cfg.Storage = spec.file_storage ? js_FileStorage : js_MemoryStorage;
  cfg.Duplicates = ns(spec.duplicate_window);
  cfg.Replicas = spec.replicas;
  cfg.MaxAge = ns(spec.max_age);
  cfg.MaxBytes = spec.max_bytes;
  // JetStream refuses a duplicate window longer than the stream's max age.
  if (cfg.MaxAge > 0 && cfg.Duplicates > cfg.MaxAge) cfg.Duplicates = cfg.MaxAge;

  jsOptions o = api_options(api_timeout_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    StreamInfoPtr si;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si.p, js_, spec.name.c_str(), &o, &code);
    if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
      StreamInfoPtr created;
      code = static_cast<jsErrCode>(0);
      s = js_AddStream(&created.p, js_, &cfg, &o, &code);
      if (code == JSStreamNameExistErr) continue;  // created concurrently: read it again
      check(s, "add stream " + spec.name, code);
      return to_info(created.p);
    }
    check(s, "stream info " + spec.name, code);
    if (same_config(si.p->Config, cfg, subjects)) return to_info(si.p);
    StreamInfoPtr updated;
    code = static_cast<jsErrCode>(0);
    check(js_UpdateStream(&updated.p, js_, &cfg, &o, &code), "update stream " + spec.name, code);
    return to_info(updated.p);
  }
  detail::fail("ensure stream " + spec.name, NATS_ERR);
}

void StreamAdmin::delete_stream(const std::string& stream) {
  jsOptions o = api_options(api_timeout_);
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteStream(js_, stream.c_str(), &o, &code);
  if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) return;
  check(s, "delete stream " + stream, code);
}

void StreamAdmin::delete_consumer(const std::string& stream, const std::string& consumer) {
  jsOptions o = api_options(api_timeout_);
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteConsumer(js_, stream.c_str(), consumer.c_str(), &o, &code);
  if (s == NATS_NOT_FOUND || code == JSConsumerNotFoundErr) return;
  check(s, "delete consumer " + consumer, code);
}

std::optional<Message> StreamAdmin::get_message(const std::string& stream, std::uint64_t seq) {
  jsOptions o = api_options(api_timeout_);
  natsMsg* m = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetMsg(&m, js_, stream.c_str(), seq, &o, &code);
  if (s == NATS_NOT_FOUND || code == JSNoMessageFoundErr) return std::nullopt;
  check(s, "get message " + stream + "#" + std::to_string(seq), code);
  return Message(m);
}

}  // namespace orders::nats
