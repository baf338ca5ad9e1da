// The metadata recorded with each event: the command, its request and trace ids, and what
// caused the event.
#include "write-side/commands/event_metadata.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace orders::write_side {
namespace {

TEST(EventMetadata, RecordsTheCommandItsRequestAndItsTrace) {
  CommandTrace t;
  t.request_id = "req-1";
  t.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  t.span_id = "00f067aa0ba902b7";
  t.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  t.correlation_id = "checkout-42";
  const auto m = nlohmann::json::parse(event_metadata("AddItem", t, "req-1"));
  EXPECT_EQ(m, (nlohmann::json{{"command", "AddItem"},
                               {"request_id", "req-1"},
                               {"trace_id", t.trace_id},
                               {"span_id", t.span_id},
                               {"traceparent", t.traceparent},
                               {"correlation_id", "checkout-42"},
                               {"causation_id", "req-1"}}));
}

TEST(EventMetadata, LeavesOutWhatIsNotKnown) {
  CommandTrace t;
  t.request_id = "req-\"2\"";  // escaped, whatever a caller passes
  const auto m = nlohmann::json::parse(event_metadata("ConfirmOrder", t, ""));
  EXPECT_EQ(m, (nlohmann::json{{"command", "ConfirmOrder"}, {"request_id", "req-\"2\""}}));
}

}  // namespace
}  // namespace orders::write_side
