// Bus retention (issue 13 item 3): the stream's early part is gone (purged here, as max age /
// max bytes would drop it) while the read side's checkpoint is older. The read side replays the
// missing events from the event store and goes on with the stream at the exact position: the
// query tables equal a fresh fold of the events, every event applied once.
//   1. at start (the read side was down while the stream lost its early part);
//   2. at runtime (a stream with retention limits; the projector held behind the cutover lock
//      while the stream lost the events it had not fetched yet).
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <pqxx/pqxx>

#include "common/nats/connection.hpp"
#include "common/nats/stream_admin.hpp"
#include "read-side/projector/locks.hpp"
#include "tests/e2e/support/load.hpp"
#include "tests/e2e/support/stack.hpp"
#include "tests/e2e/support/verify.hpp"

namespace orders::testing::e2e {
namespace {

using namespace std::chrono_literals;

class Retention : public ::testing::Test {
 protected:
  void start(StackOptions so) {
    so.db_hint = "retention";
    stack_ = std::make_unique<Stack>(so);
  }
  // Orders "<prefix>-<i>" with a few commands each, through the write endpoint.
  void make_orders(const std::string& prefix, int n, int commands = 3) {
    HttpClient c("127.0.0.1", stack_->write_port());
    for (int i = 0; i < n; ++i) {
      const std::string id = prefix + "-" + std::to_string(i);
      ASSERT_EQ(c.post("/orders", R"({"order_id":")" + id + R"(","customer_id":"c-)" +
                                      std::to_string(i % 5) + R"("})")
                    .status,
                201);
      for (int k = 1; k < commands; ++k) {
        ASSERT_EQ(c.post("/orders/" + id + "/items", R"({"product_id":"p-)" + std::to_string(k) +
                                                         R"(","quantity":1,"price":"2.50"})")
                          .status /
                      100,
                  2);
      }
    }
  }
  // One more line on orders "<prefix>-0" .. "<prefix>-<n-1>".
  void add_items(const std::string& prefix, int n) {
    HttpClient c("127.0.0.1", stack_->write_port());
    for (int i = 0; i < n; ++i) {
      const std::string id = prefix + "-" + std::to_string(i);
      ASSERT_EQ(c.post("/orders/" + id + "/items", R"({"product_id":"p-late","quantity":3,)"
                                                   R"("price":"1.00"})")
                        .status /
                    100,
                2);
    }
  }
  // Waits until the relay has published every event; the stream's last sequence then.
  std::uint64_t published() {
    EXPECT_TRUE(wait_until([&] { return check_outbox(*stack_).drained(); }, 30s));
    return stream().last_seq;
  }
  nats::StreamInfo stream() {
    auto conn = nats::Connection::connect(stack_->nats().url(), "retention-test");
    nats::StreamAdmin admin(conn);
    return admin.stream_info("ORDERS").value();
  }
  // Drops the stream's messages below `seq` (JetStream purge up to a sequence).
  void purge_below(std::uint64_t seq) {
    auto conn = nats::Connection::connect(stack_->nats().url(), "retention-test");
    nats::StreamAdmin admin(conn);
    jsOptions o;
    jsOptions_Init(&o);
    o.Stream.Purge.Sequence = seq;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    ASSERT_EQ(js_PurgeStream(admin.raw(), "ORDERS", &o, &jerr), NATS_OK) << jerr;
    ASSERT_EQ(stream().first_seq, seq);
  }
  // The end checks of the fault tests: the read model is the fold, nothing applied twice.
  void expect_read_model_is_the_fold() {
    EXPECT_TRUE(wait_drained(*stack_, 30s)) << log_tail(stack_->read_log(0));
    const auto div = check_divergence(*stack_);
    EXPECT_EQ(div.diverged(), 0) << (div.examples.empty() ? "" : div.examples.front());
    const auto dup = check_duplicates(*stack_);
    EXPECT_EQ(dup.applied_orders, dup.events) << dup.describe();
    EXPECT_EQ(dup.applied_customers, dup.events) << dup.describe();
    EXPECT_EQ(dup.duplicates(), 0) << dup.describe();
  }

  std::unique_ptr<Stack> stack_;
};

TEST_F(Retention, AReadSideStartingBehindTheStreamReplaysTheMissingPartFromTheStore) {
  start({});
  make_orders("early", 10);
  ASSERT_TRUE(wait_drained(*stack_, 30s));
  const auto checkpoint = published();
  stack_->kill_read(0);
  // While it is down: new orders (wholly in the part that will be gone) and orders going on.
  make_orders("gone", 20);
  add_items("early", 4);
  const auto last = published();
  ASSERT_GT(last, checkpoint + 60);
  purge_below(last - 5);  // the read side's next position, checkpoint + 1, is long gone
  stack_->start_read(0);
  expect_read_model_is_the_fold();
  EXPECT_NE(stack_->read_log(0).find("replaying them from the event store"), std::string::npos);
}

TEST_F(Retention, EventsExpiringBeforeTheRunningProjectorFetchesThemComeFromTheStore) {
  StackOptions so;
  // Retention limits make the projector check at runtime (this limit itself drops nothing here).
  so.write_env = {{"NATS_STREAM_MAX_BYTES", "1000000000"}};
  // One event per fetch and one more in flight: the rest waits in the stream.
  so.read_env = {{"PROJECTOR_BATCH", "1"}, {"PROJECTOR_GROUP_DELAY_MS", "0"}};
  start(so);
  make_orders("before", 5);
  ASSERT_TRUE(wait_drained(*stack_, 30s));
  {
    // The cutover lock held exclusively (as a rebuild's swap does): every apply waits.
    pqxx::connection hold(stack_->db_url());
    pqxx::nontransaction tx(hold);
    tx.exec("SELECT pg_advisory_lock(" + std::to_string(read_side::kCutoverLockClass) + ", 0)");
    make_orders("held", 20);
    add_items("before", 5);
    const auto last = published();
    purge_below(last - 3);  // most of what the projector has not fetched yet is gone
    tx.exec("SELECT pg_advisory_unlock_all()");
  }
  expect_read_model_is_the_fold();
  EXPECT_NE(stack_->read_log(0).find("replaying them from the event store"), std::string::npos);
}

}  // namespace
}  // namespace orders::testing::e2e
