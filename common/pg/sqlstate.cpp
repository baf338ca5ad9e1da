#include "common/pg/sqlstate.hpp"

#include <string>

#include <pqxx/pqxx>

#include "common/pg/pool.hpp"

namespace orders::pg {

bool has_sqlstate(const pqxx::sql_error& e, std::string_view state) {
  return e.sqlstate() == state;
}

bool is_retryable_conflict(const pqxx::sql_error& e) {
  const std::string state = e.sqlstate();
  return state == "40001" || state == "40P01";
}

bool is_transient(const std::exception_ptr& error) {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const PoolExhausted&) {
    return true;
  } catch (const pqxx::broken_connection&) {
    return true;
  } catch (const pqxx::serialization_failure&) {  // libpqxx 6.4: not an sql_error
    return true;
  } catch (const pqxx::deadlock_detected&) {
    return true;
  } catch (const pqxx::sql_error& e) {
    const std::string cls = e.sqlstate().substr(0, 2);
    // 25006: a read-only transaction, i.e. a node that was demoted to a replica under us.
    return cls == "08" || cls == "53" || cls == "57" || e.sqlstate() == "25006" ||
           is_retryable_conflict(e);
  } catch (...) {
    return false;
  }
}

}  // namespace orders::pg
