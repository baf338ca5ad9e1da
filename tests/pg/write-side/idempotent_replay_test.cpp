// An Idempotency-Key replay answers the first response byte for byte, from a record stored as
// data (status, headers, the body's fields; the position of the command's last event in its own
// column), not as patched text. A write-side process on the test's PostgreSQL.
#include <string>

#include "tests/support/write_side_fixture.hpp"

namespace orders::testing::ws {
namespace {

TEST(IdempotentReplay, RepeatsTheFirstResponseBytesFromTheStoredFields) {
  auto ws = WriteSide::start();
  auto c = ws->client();
  const std::string order = unique_id("replay");
  const std::string k1 = unique_id("key");
  auto created = c.post("/orders", create_body(order), {{"Idempotency-Key", k1}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string k2 = unique_id("key");
  auto added =
      c.post("/orders/" + order + "/items", item_body("p", 2, "1.50"), {{"Idempotency-Key", k2}});
  ASSERT_EQ(added.status, 200) << added.body;

  // Stored as data: the fields without "position", which is the event's store position.
  EXPECT_EQ(ws->sql("SELECT status || ' ' || (body ? 'position')::text || ' ' || "
                    "(position = (SELECT max(position) FROM events WHERE stream_id = '" +
                    order + "'))::text FROM idempotency_keys WHERE key = '" + k2 + "'"),
            "200 false true");
  EXPECT_EQ(ws->sql("SELECT body->>'order_id' FROM idempotency_keys WHERE key = '" + k1 + "'"),
            order);

  auto created_again = c.post("/orders", create_body(order), {{"Idempotency-Key", k1}});
  EXPECT_EQ(created_again.status, 201);
  EXPECT_EQ(created_again.body, created.body);
  EXPECT_EQ(created_again.headers["location"], created.headers["location"]);
  EXPECT_EQ(created_again.headers["content-type"], created.headers["content-type"]);
  auto added_again =
      c.post("/orders/" + order + "/items", item_body("p", 2, "1.50"), {{"Idempotency-Key", k2}});
  EXPECT_EQ(added_again.status, 200);
  EXPECT_EQ(added_again.body, added.body);
  EXPECT_EQ(added_again.json()["position"], added.json()["position"]);
  EXPECT_TRUE(added.json()["position"].is_number()) << added.body;
  EXPECT_EQ(ws->events_of(order), 2);
}

}  // namespace
}  // namespace orders::testing::ws
