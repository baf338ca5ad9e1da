#include "common/http/problem.hpp"

#include <fstream>
#include <set>
#include <sstream>
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

TEST(Problem, InstanceNamesTheRequest) {
  const Response given = problem(Problem::OrderNotDraft, "x", "rid-1");
  EXPECT_EQ(nlohmann::json::parse(given.body).at("instance"), "urn:request:rid-1");

  // The server adds it to a problem without one, and leaves one that has it (a replay) alone.
  Response added = problem(Problem::NotFound, "x");
  add_instance(added, "rid-2");
  EXPECT_EQ(nlohmann::json::parse(added.body).at("instance"), "urn:request:rid-2");
  Response kept = given;
  add_instance(kept, "rid-3");
  EXPECT_EQ(kept.body, given.body);
  Response not_a_problem = json_response(200, {{"a", 1}});
  add_instance(not_a_problem, "rid-4");
  EXPECT_EQ(not_a_problem.body, R"({"a":1})");
}

TEST(Problem, EveryTypeHasAPageAndAnUnknownOneIs404) {
  for (const auto& k : all_kinds()) {
    const Response page = problem_page(k.slug);
    EXPECT_EQ(page.status, 200) << k.slug;
    EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_NE(page.body.find(std::string(k.slug)), std::string::npos) << k.slug;
    EXPECT_NE(page.body.find("What to do"), std::string::npos) << k.slug;
    EXPECT_FALSE(k.means.empty() || k.advice.empty()) << k.slug;
    EXPECT_EQ(page.body.find("<token>"), std::string::npos) << "unescaped text: " << k.slug;
  }
  const Response unknown = problem_page("no-such-problem");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(nlohmann::json::parse(unknown.body).at("type"), "/problems/not-found");
}

// docs/http-api.md documents every problem type under a heading of its own.
TEST(Problem, EverySlugHasItsHeadingInTheHttpApiDoc) {
  std::ifstream in(std::string(ORDERS_SOURCE_DIR) + "/docs/http-api.md");
  ASSERT_TRUE(in) << "docs/http-api.md not found";
  std::stringstream doc;
  doc << in.rdbuf();
  for (const auto& k : all_kinds()) {
    const std::string heading = "\n#### `" + std::string(k.slug) + "`\n";
    EXPECT_NE(doc.str().find(heading), std::string::npos) << "missing heading for " << k.slug;
  }
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
