// Property: for random command sequences, restoring the snapshot taken at any version and applying
// the newer events gives the same state as replaying every event (what the write-side relies on
// when it loads the latest snapshot plus newer events).
#include <random>

#include <gtest/gtest.h>

#include "common/codec/event_codec.hpp"
#include "common/codec/state_codec.hpp"
#include "common/domain/order.hpp"

namespace orders::domain {
namespace {

Command random_command(std::mt19937_64& rng) {
  static const char* products[] = {"p1", "p2", "p3"};
  const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  switch (pick(8)) {
    case 0:
      return CreateOrder{"order-1", "customer-1"};
    case 1:
    case 2:
    case 3:
      return AddItem{products[pick(3)], 1 + pick(5), 100 * (1 + pick(2))};
    case 4:
      return RemoveItem{products[pick(3)]};
    case 5:
      return ConfirmOrder{};
    case 6:
      return ShipOrder{"TRK" + std::to_string(pick(100))};
    default:
      return DeliverOrder{};
  }
}

TEST(SnapshotProperty, SnapshotPlusNewerEventsEqualsFullReplay) {
  std::mt19937_64 rng(20261127);
  for (int run = 0; run < 300; ++run) {
    std::vector<Event> log;
    OrderState state;
    state = evolve(std::move(state), OrderCreated{"order-1", "customer-1"});
    log.push_back(OrderCreated{"order-1", "customer-1"});
    for (int i = 0; i < 60; ++i) {
      auto decision = decide(random_command(rng), state);
      if (auto* events = std::get_if<std::vector<Event>>(&decision)) {
        for (const auto& e : *events) {
          // Events go through the stored JSON form, as they do in the store.
          auto stored = codec::encode_event_data(e);
          auto back = codec::decode_event(event_type(e),
                                          codec::current_schema_version(event_type(e)), stored);
          ASSERT_TRUE(std::holds_alternative<Event>(back));
          log.push_back(std::get<Event>(back));
          state = evolve(std::move(state), log.back());
        }
      }
    }
    const std::size_t cut = static_cast<std::size_t>(rng() % log.size());
    OrderState at_cut;
    for (std::size_t i = 0; i < cut; ++i) at_cut = evolve(std::move(at_cut), log[i]);
    auto restored = codec::state_from_snapshot_json(codec::state_to_snapshot_json(at_cut));
    ASSERT_TRUE(restored.has_value());
    OrderState from_snapshot = *restored;
    for (std::size_t i = cut; i < log.size(); ++i)
      from_snapshot = evolve(std::move(from_snapshot), log[i]);
    ASSERT_EQ(from_snapshot, state) << "run " << run << " cut " << cut;
    EXPECT_EQ(codec::state_to_json(from_snapshot), codec::state_to_json(state));
  }
}

}  // namespace
}  // namespace orders::domain
