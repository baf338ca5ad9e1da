#include "projector/listener.hpp"

#include <memory>

#include <pqxx/pqxx>

#include "log/logger.hpp"
#include "projection/store.hpp"

namespace orders::read_side {

namespace {

class Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, ApplyNotifier& n)
      : pqxx::notification_receiver(c, kAppliedChannel), notifier_(n) {}
  void operator()(const std::string&, int) override { notifier_.notify(); }

 private:
  ApplyNotifier& notifier_;
};

}  // namespace

AppliedListener::AppliedListener(std::string database_url, ApplyNotifier& notifier,
                                 log::Logger& logger)
    : url_(std::move(database_url)), notifier_(notifier), logger_(logger) {
  thread_ = std::thread([this] { run(); });
}

AppliedListener::~AppliedListener() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void AppliedListener::run() {
  auto backoff = std::chrono::milliseconds(100);
  while (!stop_) {
    try {
      pqxx::connection conn(url_);
      // A silently reactivated connection would miss notifications sent while it was down: never
      // reactivate; this loop reconnects explicitly and re-checks (notify below) instead.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      conn.inhibit_reactivation(true);
#pragma GCC diagnostic pop
      Receiver receiver(conn, notifier_);
      backoff = std::chrono::milliseconds(100);
      // Catch up on anything committed while we were not listening.
      notifier_.notify();
      while (!stop_) conn.await_notification(0, 200'000);
    } catch (const std::exception& e) {
      if (stop_) break;
      logger_.warn("applied listener: reconnecting", {{"error", e.what()}});
      for (auto waited = std::chrono::milliseconds(0); waited < backoff && !stop_;
           waited += std::chrono::milliseconds(50)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }
}

}  // namespace orders::read_side
