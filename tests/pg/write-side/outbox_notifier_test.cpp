// NotifyBroadcaster on "outbox": a request reaches a LISTEN outbox session (the relay leader in
// another write-side replica).
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "common/log/logger.hpp"
#include "common/pg/notify_broadcaster.hpp"
#include "tests/support/services.hpp"

namespace orders::write_side {
namespace {

TEST(OutboxNotifier, RequestWakesAListener) {
  const std::string url = testing::shared_pg().create_database("notifier");
  pqxx::connection listener(url);
  struct Rx : pqxx::notification_receiver {
    using pqxx::notification_receiver::notification_receiver;
    void operator()(const std::string&, int) override { ++n; }
    int n = 0;
  } rx(listener, "outbox");
  log::Logger logger("test", log::Level::Error);
  pg::NotifyBroadcaster notifier(url, "outbox", logger);
  notifier.request();
  // await_notification blocks until one arrives or its timeout: a deadline, not a sleep.
  for (int i = 0; i < 50 && rx.n == 0; ++i) listener.await_notification(0, 100000);
  EXPECT_GE(rx.n, 1);
}

}  // namespace
}  // namespace orders::write_side
