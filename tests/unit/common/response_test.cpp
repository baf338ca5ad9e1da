#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "common/http/server.hpp"
#include "common/pg/pool.hpp"

namespace orders::http {
namespace {

TEST(Problem, HasTheFourFieldsAndProblemContentType) {
  const Response r = problem(409, "not-draft", "Conflict", "the order is not a draft");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.content_type, "application/problem+json");
  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body.at("type"), "/problems/not-draft");
  EXPECT_EQ(body.at("title"), "Conflict");
  EXPECT_EQ(body.at("status"), 409);
  EXPECT_EQ(body.at("detail"), "the order is not a draft");
  EXPECT_EQ(body.size(), 4u);
}

TEST(Problem, InvalidUtf8InDetailNeverThrows) {
  const Response r = problem(400, "bad", "Bad request", "bad id \xff\xfe");
  EXPECT_TRUE(nlohmann::json::accept(r.body));
}

TEST(JsonResponse, SerializesTheBody) {
  const Response r = json_response(201, {{"order_id", "o1"}, {"version", 1}});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(r.body).at("version"), 1);
}

TEST(TextResponse, KeepsBodyAndType) {
  const Response r = text_response(200, "x 1\n", "text/plain; version=0.0.4");
  EXPECT_EQ(r.body, "x 1\n");
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4");
}

template <typename E>
std::exception_ptr make(E e) {
  return std::make_exception_ptr(std::move(e));
}

TEST(TransientFailure, ClassifiesBySqlstateAndType) {
  EXPECT_TRUE(is_transient_failure(make(pg::PoolExhausted("busy"))));
  EXPECT_TRUE(is_transient_failure(make(pqxx::broken_connection("gone"))));
  EXPECT_TRUE(is_transient_failure(make(pqxx::sql_error("timeout", "SELECT 1", "57014"))));
  EXPECT_TRUE(is_transient_failure(make(pqxx::sql_error("admin shutdown", "", "57P01"))));
  EXPECT_TRUE(is_transient_failure(make(pqxx::sql_error("conn failure", "", "08006"))));
  EXPECT_TRUE(is_transient_failure(make(pqxx::sql_error("too many", "", "53300"))));
  EXPECT_TRUE(is_transient_failure(make(pqxx::serialization_failure("retry"))));
  EXPECT_TRUE(is_transient_failure(make(pqxx::deadlock_detected("retry"))));

  EXPECT_FALSE(is_transient_failure(make(pqxx::sql_error("syntax", "SELEC", "42601"))));
  EXPECT_FALSE(is_transient_failure(make(pqxx::unique_violation("dup", "", "23505"))));
  EXPECT_FALSE(is_transient_failure(make(pqxx::sql_error("no state"))));
  EXPECT_FALSE(is_transient_failure(make(pqxx::in_doubt_error("commit unknown"))));
  EXPECT_FALSE(is_transient_failure(make(std::runtime_error("bug"))));
  EXPECT_FALSE(is_transient_failure(make(42)));
  EXPECT_FALSE(is_transient_failure(nullptr));
}

}  // namespace
}  // namespace orders::http
