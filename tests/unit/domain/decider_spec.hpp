// Given / When / Then for the order decider (after Emmett's DeciderSpecification).
#pragma once
#include <vector>

#include <gtest/gtest.h>

#include "common/domain/order.hpp"

namespace orders::domain::spec {

class DeciderSpec {
 public:
  explicit DeciderSpec(std::vector<Event> given) {
    for (const auto& e : given) state_ = evolve(std::move(state_), e);
  }
  DeciderSpec& When(Command c) {
    decision_ = decide(c, state_);
    return *this;
  }
  void Then(const std::vector<Event>& expected) const {
    ASSERT_TRUE(std::holds_alternative<std::vector<Event>>(decision_))
        << "rejected: " << to_string(std::get<Rejection>(decision_).code);
    EXPECT_EQ(std::get<std::vector<Event>>(decision_), expected);
  }
  void ThenRejects(RejectionCode code) const {
    ASSERT_TRUE(std::holds_alternative<Rejection>(decision_)) << "expected a rejection";
    EXPECT_EQ(to_string(std::get<Rejection>(decision_).code), to_string(code));
  }
  const OrderState& state() const { return state_; }

 private:
  OrderState state_;
  Decision decision_ = std::vector<Event>{};
};

inline DeciderSpec Given(std::vector<Event> events) {
  return DeciderSpec(std::move(events));
}

}  // namespace orders::domain::spec
