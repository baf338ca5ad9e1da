// The one place that reads SQLSTATEs: which database failures are worth retrying and which codes
// the services branch on.
#pragma once
#include <exception>
#include <string_view>

namespace pqxx {
class sql_error;
}

namespace orders::pg {

namespace sqlstate {
inline constexpr std::string_view kUniqueViolation = "23505";
inline constexpr std::string_view kLockNotAvailable = "55P03";  // lock_timeout
inline constexpr std::string_view kStaleRow = "RS001";          // raised by rs_apply_group
}  // namespace sqlstate

bool has_sqlstate(const pqxx::sql_error& e, std::string_view state);

// Serialization failure (40001) or deadlock (40P01): the transaction was rolled back and running
// it again is safe.
bool is_retryable_conflict(const pqxx::sql_error& e);

// A failure after which nothing was done and a retry may work (503 + Retry-After): PoolExhausted,
// a broken connection, SQLSTATE classes 08 (connection), 53 (resources), 57 (operator
// intervention: statement timeout 57014, admin shutdown 57P01...) and the retryable conflicts.
bool is_transient(const std::exception_ptr& error);

}  // namespace orders::pg
