#include "tests/support/nats_reader.hpp"

#include <nats/nats.h>

#include "common/codec/bus_envelope.hpp"

namespace orders::testing {

NatsReader::NatsReader(nats::StreamAdmin& admin, const ReaderSpec& spec) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = spec.stream.c_str();
  if (!spec.durable.empty()) so.Config.Durable = spec.durable.c_str();
  if (!spec.filter_subject.empty()) so.Config.FilterSubject = spec.filter_subject.c_str();
  so.Config.AckPolicy = spec.explicit_ack ? js_AckExplicit : js_AckNone;
  so.Config.DeliverPolicy = js_DeliverAll;
  so.Config.AckWait = 30'000'000'000LL;
  so.Config.MaxAckPending = 20000;
  so.Config.MaxDeliver = -1;
  const std::string subject =
      spec.filter_subject.empty() ? codec::stream_subject_filter(spec.stream) : spec.filter_subject;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s =
      js_PullSubscribe(&sub_, admin.raw(), subject.c_str(),
                       spec.durable.empty() ? nullptr : spec.durable.c_str(), nullptr, &so, &code);
  if (s != NATS_OK) {
    throw nats::NatsError("pull subscribe " + spec.stream + ": " + natsStatus_GetText(s), s, code);
  }
}

NatsReader::~NatsReader() {
  if (sub_ != nullptr) natsSubscription_Destroy(sub_);
}

std::vector<nats::Message> NatsReader::fetch(int batch, std::chrono::milliseconds timeout) {
  natsMsgList list{nullptr, 0};
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = natsSubscription_Fetch(&list, sub_, batch, timeout.count(), &code);
  if (s != NATS_OK && s != NATS_TIMEOUT && !(s == NATS_NOT_FOUND && code == 0)) {
    natsMsgList_Destroy(&list);
    throw nats::NatsError(std::string("fetch: ") + natsStatus_GetText(s), s, code);
  }
  std::vector<nats::Message> out;
  out.reserve(static_cast<std::size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    out.emplace_back(list.Msgs[i]);
    list.Msgs[i] = nullptr;  // now owned by Message
  }
  natsMsgList_Destroy(&list);
  return out;
}

}  // namespace orders::testing
