#include "common/http/problem.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace orders::http {
namespace {

constexpr auto kLast = static_cast<int>(Problem::NotReady);

TEST(Problem, HasTheFourFieldsAndProblemContentType) {
  const Response r = problem(Problem::OrderNotDraft, "the order is not a draft");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.content_type, "application/problem+json");
  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body.at("type"), "/problems/order-not-draft");
  EXPECT_EQ(body.at("title"), "Order is not a draft");
  EXPECT_EQ(body.at("status"), 409);
  EXPECT_EQ(body.at("detail"), "the order is not a draft");
  EXPECT_EQ(body.size(), 4u);
  EXPECT_TRUE(r.headers.empty());
}

TEST(Problem, InvalidUtf8InDetailNeverThrows) {
  const Response r = problem(Problem::InvalidRequest, "bad id \xff\xfe");
  EXPECT_TRUE(nlohmann::json::accept(r.body));
}

TEST(Problem, EveryKindHasItsOwnSlugAndTitleAndAnErrorStatus) {
  std::set<std::string> slugs;
  for (int i = 0; i <= kLast; ++i) {
    const auto& k = kind_of(static_cast<Problem>(i));
    EXPECT_TRUE(slugs.insert(std::string(k.slug)).second) << k.slug;
    EXPECT_FALSE(k.title.empty()) << k.slug;
    EXPECT_GE(k.status, 400) << k.slug;
    EXPECT_LE(k.status, 599) << k.slug;
  }
}

TEST(Problem, EveryServiceUnavailableTellsTheClientWhenToRetry) {
  for (int i = 0; i <= kLast; ++i) {
    const auto p = static_cast<Problem>(i);
    const Response r = problem(p, "x");
    const bool has_retry_after =
        !r.headers.empty() &&
        r.headers.front() == std::pair<std::string, std::string>{"Retry-After", "1"};
    EXPECT_EQ(has_retry_after, r.status == 503) << kind_of(p).slug;
  }
}

TEST(Problem, RulesOfTheOrderMapToNotFoundOrConflict) {
  using domain::RejectionCode;
  EXPECT_EQ(kind_of(problem_for(RejectionCode::OrderNotFound)).status, 404);
  EXPECT_EQ(kind_of(problem_for(RejectionCode::ItemNotInOrder)).status, 404);
  for (auto c : {RejectionCode::AlreadyExists, RejectionCode::NotDraft, RejectionCode::NoItems,
                 RejectionCode::NotConfirmed, RejectionCode::NotShipped,
                 RejectionCode::PriceMismatch, RejectionCode::QuantityTooLarge,
                 RejectionCode::TotalTooLarge, RejectionCode::TooManyLines}) {
    EXPECT_EQ(kind_of(problem_for(c)).status, 409) << domain::to_string(c);
  }
  EXPECT_EQ(kind_of(problem_for(RejectionCode::NotDraft)).slug, "order-not-draft");
  EXPECT_EQ(kind_of(problem_for(RejectionCode::AlreadyExists)).slug, "order-already-exists");
}

}  // namespace
}  // namespace orders::http
