// The write-side binary with its in-process outbox relay (RELAY_ENABLED=on) against a real
// nats-server: commands are acknowledged, the outbox drains, everything is published, and /readyz
// reflects NATS.
#include <csignal>

#include "common/nats/stream_admin.hpp"
#include "tests/support/write_side_fixture.hpp"

namespace orders::testing::ws {
namespace {

TEST(WriteSideWithRelay, OutboxDrainsToJetStream) {
  NatsServer nats;
  auto ws = WriteSide::start(
      "", {{"RELAY_ENABLED", "on"}, {"NATS_URL", nats.url()}, {"NATS_STREAM", "ORDERS"}});
  auto c = ws->client();
  for (int i = 0; i < 5; ++i) {
    const std::string id = "relay-" + std::to_string(i);
    ASSERT_EQ(c.post("/orders", create_body(id)).status, 201);
    ASSERT_EQ(c.post("/orders/" + id + "/items", item_body("p", 1, "1.00")).status, 200);
  }
  EXPECT_TRUE(wait_until([&] { return ws->outbox() == 0; }, std::chrono::seconds(20)))
      << "outbox rows left: " << ws->outbox();
  EXPECT_TRUE(wait_until([&] { return ws->count("SELECT last_published FROM relay_state") == 10; },
                         std::chrono::seconds(20)))
      << ws->sql("SELECT last_sequenced, last_published FROM relay_state");
  EXPECT_EQ(c.get("/readyz").status, 200);
  // The readiness gauge the "not ready" alert reads follows /readyz.
  auto ready_gauge = [&] {
    const auto body = c.get("/metrics").body;
    if (body.find("\norders_ready 1\n") != std::string::npos) return 1;
    return body.find("\norders_ready 0\n") != std::string::npos ? 0 : -1;
  };
  EXPECT_EQ(ready_gauge(), 1);

  // NATS down: the leader's relay reports it, /readyz says not ready, commands still commit.
  nats.stop();
  EXPECT_TRUE(wait_until([&] { return c.get("/readyz").status == 503; }, std::chrono::seconds(20)));
  EXPECT_EQ(ready_gauge(), 0);
  EXPECT_EQ(c.post("/orders", create_body("relay-late")).status, 201);
  nats.start();
  EXPECT_TRUE(wait_until([&] { return c.get("/readyz").status == 200; }, std::chrono::seconds(30)));
  EXPECT_EQ(ready_gauge(), 1);
  EXPECT_TRUE(wait_until([&] { return ws->count("SELECT last_published FROM relay_state") == 11; },
                         std::chrono::seconds(30)));
  ws->process->signal(SIGTERM);
  EXPECT_EQ(ws->process->wait(std::chrono::seconds(20)).value_or(-1), 0) << ws->process->log();
}

// The relay creates the stream with the retention settings (NATS_STREAM_MAX_AGE_S / _MAX_BYTES).
TEST(WriteSideWithRelay, TheStreamGetsTheRetentionSettings) {
  NatsServer nats;
  auto ws = WriteSide::start("", {{"RELAY_ENABLED", "on"},
                                  {"NATS_URL", nats.url()},
                                  {"NATS_STREAM_MAX_AGE_S", "3600"},
                                  {"NATS_STREAM_MAX_BYTES", "1000000"}});
  ASSERT_EQ(ws->client().post("/orders", create_body("retention-1")).status, 201);
  EXPECT_TRUE(wait_until([&] { return ws->count("SELECT last_published FROM relay_state") == 1; },
                         std::chrono::seconds(20)));
  auto conn = nats::Connection::connect(nats.url(), "retention-test");
  auto info = nats::StreamAdmin(conn).stream_info("ORDERS");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->max_age, std::chrono::hours(1));
  EXPECT_EQ(info->max_bytes, 1000000);
}

}  // namespace
}  // namespace orders::testing::ws
