#include "common/pg/migrations.hpp"

#include <set>

namespace orders::pg {
namespace {

// pg_advisory_lock key held while migrating ("orders" schema_migrations).
constexpr long long kMigrationLockKey = 0x6f72646572730001LL;

// Session-level advisory lock, released on scope exit even when a migration throws.
class AdvisoryLock {
 public:
  explicit AdvisoryLock(pqxx::connection& conn) : conn_(conn) {
    pqxx::nontransaction tx(conn_);
    tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
  }
  ~AdvisoryLock() {
    try {
      pqxx::nontransaction tx(conn_);
      tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    } catch (...) {
      // Connection gone: the server released the lock with the session.
    }
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  pqxx::connection& conn_;
};

std::set<int> applied_versions(pqxx::connection& conn) {
  pqxx::read_transaction tx(conn);
  std::set<int> out;
  const auto exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists[0][0].as<bool>()) return out;
  for (const auto& row : tx.exec("SELECT version FROM schema_migrations"))
    out.insert(row[0].as<int>());
  return out;
}

}  // namespace

MigrationReport apply_migrations(pqxx::connection& conn) {
  AdvisoryLock lock(conn);
  {
    pqxx::work tx(conn);
    tx.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version int PRIMARY KEY,"
        " name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    tx.commit();
  }
  MigrationReport report;
  std::set<int> done = applied_versions(conn);
  for (const auto& m : embedded_migrations()) {
    if (done.count(m.version) != 0) continue;
    pqxx::work tx(conn);
    tx.exec(m.sql);
    tx.exec_params(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())",
        m.version, std::string(m.name));
    tx.commit();
    report.applied.push_back(m.version);
    done.insert(m.version);
  }
  report.current = done.empty() ? 0 : *done.rbegin();
  return report;
}

bool migrations_current(pqxx::connection& conn) {
  const std::set<int> done = applied_versions(conn);
  for (const auto& m : embedded_migrations()) {
    if (done.count(m.version) == 0) return false;
  }
  return true;
}

}  // namespace orders::pg
