#include "common/nats/connection.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "common/nats/detail/status.hpp"

namespace orders::nats {

using detail::check;
using detail::ms;

struct Connection::Impl {
  natsConnection* nc = nullptr;
  std::function<void(bool)> on_change;
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;  // the closed callback ran: cnats will not call us again
  std::uint64_t retired_count = 0;
  // Unsubscribed, waiting for a flush sent after their unsubscribe: (retired_count then, sub).
  std::vector<std::pair<std::uint64_t, natsSubscription*>> retired;

  ~Impl() {
    if (nc == nullptr) return;
    // The disconnected/closed callbacks come on a cnats thread after Close returns: wait for the
    // last one before this closure goes away. The reader thread has ended then.
    natsConnection_Close(nc);
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, std::chrono::seconds(5), [this] { return closed; });
    }
    destroy_retired(UINT64_MAX);
    natsConnection_Destroy(nc);
  }

  // Those retired before the flush that just succeeded was sent (up_to: the count then).
  void destroy_retired(std::uint64_t up_to) {
    std::vector<natsSubscription*> done;
    {
      std::lock_guard lock(mu);
      auto keep = std::partition(retired.begin(), retired.end(),
                                 [&](const auto& r) { return r.first > up_to; });
      for (auto it = keep; it != retired.end(); ++it) done.push_back(it->second);
      retired.erase(keep, retired.end());
    }
    for (auto* sub : done) natsSubscription_Destroy(sub);
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

namespace {

struct OptionsPtr {
  natsOptions* p = nullptr;
  ~OptionsPtr() {
    if (p != nullptr) natsOptions_Destroy(p);
  }
};

// "nats://a:4222,nats://b:4222": every server of a cluster (cnats tries them in turn and learns
// the others from the cluster); one URL: that server.
void set_servers(natsOptions* opts, const std::string& url) {
  std::vector<std::string> urls;
  for (std::size_t start = 0; start <= url.size();) {
    std::size_t end = url.find(',', start);
    if (end == std::string::npos) end = url.size();
    std::string one = url.substr(start, end - start);
    one.erase(0, one.find_first_not_of(' '));
    one.erase(one.find_last_not_of(' ') + 1);
    if (!one.empty()) urls.push_back(std::move(one));
    start = end + 1;
  }
  if (urls.size() <= 1) {
    check(natsOptions_SetURL(opts, url.c_str()), "nats url " + url);
    return;
  }
  std::vector<const char*> ptrs;
  for (const auto& u : urls) ptrs.push_back(u.c_str());
  check(natsOptions_SetServers(opts, ptrs.data(), static_cast<int>(ptrs.size())),
        "nats servers " + url);
}

}  // namespace

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

Connection Connection::connect(const ConnectOptions& o) {
  auto impl = std::make_unique<Impl>();
  impl->on_change = o.on_connection_change;
  OptionsPtr opts;
  check(natsOptions_Create(&opts.p), "natsOptions_Create");
  set_servers(opts.p, o.url);
  if (!o.name.empty()) check(natsOptions_SetName(opts.p, o.name.c_str()), "nats name");
  check(natsOptions_SetTimeout(opts.p, ms(o.connect_timeout)), "nats timeout");
  check(natsOptions_SetAllowReconnect(opts.p, true), "nats reconnect");
  check(natsOptions_SetMaxReconnect(opts.p, o.max_reconnect), "nats max reconnect");
  check(natsOptions_SetReconnectWait(opts.p, ms(o.reconnect_wait)), "nats reconnect wait");
  check(natsOptions_SetPingInterval(opts.p, ms(o.ping_interval)), "nats ping interval");
  check(natsOptions_SetReconnectBufSize(opts.p, o.reconnect_buffer_bytes), "nats reconnect buffer");
  if (o.retry_on_failed_connect) {
    check(natsOptions_SetRetryOnFailedConnect(opts.p, true, nullptr, nullptr), "nats retry");
  }
  check(natsOptions_SetDisconnectedCB(opts.p, &Impl::on_disconnected, impl.get()), "nats cb");
  check(natsOptions_SetReconnectedCB(opts.p, &Impl::on_reconnected, impl.get()), "nats cb");
  check(natsOptions_SetClosedCB(opts.p, &Impl::on_closed, impl.get()), "nats cb");
  natsStatus s = natsConnection_Connect(&impl->nc, opts.p);
  if (!(o.retry_on_failed_connect && s == NATS_NOT_YET_CONNECTED)) {
    check(s, "connect to " + o.url);
  }
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

void Connection::retire(natsSubscription* sub) {
  if (sub == nullptr) return;
  natsSubscription_Unsubscribe(sub);  // no later message finds it
  std::uint64_t mine = 0;
  {
    std::lock_guard lock(impl_->mu);
    mine = ++impl_->retired_count;
    impl_->retired.emplace_back(mine, sub);
  }
  // Not while disconnected: the flush would wait for the reconnection.
  if (connected() && natsConnection_FlushTimeout(impl_->nc, 1000) == NATS_OK) {
    impl_->destroy_retired(mine);
  }
}

}  // namespace orders::nats
