#include "common/pg/sqlstate.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "common/pg/pool.hpp"

namespace orders::pg {
namespace {

template <typename E>
std::exception_ptr make(E e) {
  return std::make_exception_ptr(std::move(e));
}

TEST(TransientFailure, ClassifiesBySqlstateAndType) {
  EXPECT_TRUE(is_transient(make(PoolExhausted("busy"))));
  EXPECT_TRUE(is_transient(make(pqxx::broken_connection("gone"))));
  EXPECT_TRUE(is_transient(make(pqxx::sql_error("timeout", "SELECT 1", "57014"))));
  EXPECT_TRUE(is_transient(make(pqxx::sql_error("admin shutdown", "", "57P01"))));
  EXPECT_TRUE(is_transient(make(pqxx::sql_error("conn failure", "", "08006"))));
  EXPECT_TRUE(is_transient(make(pqxx::sql_error("too many", "", "53300"))));
  // A node demoted to a replica under a pooled connection (Patroni switchover).
  EXPECT_TRUE(is_transient(make(pqxx::sql_error("read-only", "INSERT", "25006"))));
  EXPECT_TRUE(is_transient(make(pqxx::serialization_failure("retry"))));
  EXPECT_TRUE(is_transient(make(pqxx::deadlock_detected("retry"))));

  EXPECT_FALSE(is_transient(make(pqxx::sql_error("syntax", "SELEC", "42601"))));
  EXPECT_FALSE(is_transient(make(pqxx::unique_violation("dup", "", "23505"))));
  EXPECT_FALSE(is_transient(make(pqxx::sql_error("no state"))));
  EXPECT_FALSE(is_transient(make(pqxx::in_doubt_error("commit unknown"))));
  EXPECT_FALSE(is_transient(make(std::runtime_error("bug"))));
  EXPECT_FALSE(is_transient(make(42)));
  EXPECT_FALSE(is_transient(nullptr));
}

}  // namespace
}  // namespace orders::pg
