#include "read-side/read_your_writes/apply_subscriber.hpp"

#include <chrono>

#include <pqxx/pqxx>

#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "read-side/read_your_writes/applied_payload.hpp"

namespace orders::read_side {

namespace {

void inc(metrics::Counter* c) {
  if (c) c->inc();
}

class Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, const std::string& token, VersionWaiters& w,
           const SubscriberMetrics& m, PeerPresence* peers)
      : pqxx::notification_receiver(c, kAppliedChannel),
        token_(token),
        waiters_(w),
        metrics_(m),
        peers_(peers) {}
  void operator()(const std::string& payload, int) override {
    if (payload.size() > token_.size() && payload.compare(0, token_.size(), token_) == 0 &&
        payload[token_.size()] == '\n') {
      inc(metrics_.own);  // the local projector woke its waiters already
      return;
    }
    if (peers_ != nullptr) peers_->heard_from_peer();  // another replica (announcement or apply)
    auto p = decode_applied(payload);
    if (!p || p->all) {
      inc(metrics_.all);
      waiters_.wake_all();
      return;
    }
    inc(metrics_.foreign);
    waiters_.applied(p->orders);
  }

 private:
  const std::string& token_;
  VersionWaiters& waiters_;
  const SubscriberMetrics& metrics_;
  PeerPresence* peers_;
};

}  // namespace

ApplySubscriber::ApplySubscriber(std::string database_url, std::string own_token,
                                 VersionWaiters& waiters, log::Logger& logger,
                                 SubscriberMetrics metrics, PeerPresence* peers)
    : url_(std::move(database_url)),
      token_(std::move(own_token)),
      waiters_(waiters),
      logger_(logger),
      metrics_(metrics),
      peers_(peers) {
  worker_.start([this](std::stop_token stop) { run(stop); });
}

void ApplySubscriber::listen(std::stop_token stop) {
  pqxx::connection conn(url_);
  // A silently reactivated connection would miss notifications sent while it was down: never
  // reactivate; run() reconnects explicitly and re-checks (wake_all below) instead.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  conn.inhibit_reactivation(true);
#pragma GCC diagnostic pop
  Receiver receiver(conn, token_, waiters_, metrics_, peers_);
  // Catch up on anything committed while we were not listening.
  waiters_.wake_all();
  while (!stop.stop_requested()) conn.await_notification(0, 200'000);
}

void ApplySubscriber::run(std::stop_token stop) {
  concurrency::Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(2000));
  while (!stop.stop_requested()) {
    const auto started = std::chrono::steady_clock::now();
    try {
      listen(stop);
    } catch (const std::exception& e) {
      if (stop.stop_requested()) break;
      logger_.warn("apply subscriber: reconnecting", {{"error", e.what()}});
      // A connection that lived a while was healthy: start the back-off over.
      if (std::chrono::steady_clock::now() - started > std::chrono::seconds(10)) backoff.reset();
      if (!concurrency::sleep_for(stop, backoff.next())) break;
    }
  }
}

}  // namespace orders::read_side
