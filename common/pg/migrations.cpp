#include "common/pg/migrations.hpp"

#include <map>
#include <optional>

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

// What the database records as applied.
struct Applied {
  std::map<int, std::optional<std::string>> versions;  // version -> checksum (none: recorded
                                                       // before checksums existed)
  std::map<std::string, std::string> repeatables;      // file -> checksum
};

bool table_exists(pqxx::transaction_base& tx, const char* table) {
  return tx.exec_params("SELECT to_regclass($1) IS NOT NULL", std::string(table))[0][0].as<bool>();
}

bool has_checksum_column(pqxx::transaction_base& tx) {
  return tx
      .exec(
          "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'schema_migrations'::regclass"
          " AND attname = 'checksum' AND NOT attisdropped)")[0][0]
      .as<bool>();
}

Applied read_applied(pqxx::transaction_base& tx) {
  Applied out;
  if (!table_exists(tx, "schema_migrations")) return out;
  const bool checksums = has_checksum_column(tx);
  for (const auto& row : tx.exec(checksums ? "SELECT version, checksum FROM schema_migrations"
                                           : "SELECT version, NULL FROM schema_migrations")) {
    out.versions.emplace(row[0].as<int>(),
                         row[1].is_null() ? std::nullopt : std::optional(row[1].as<std::string>()));
  }
  if (!table_exists(tx, "schema_repeatables")) return out;
  for (const auto& row : tx.exec("SELECT file, checksum FROM schema_repeatables"))
    out.repeatables.emplace(row[0].as<std::string>(), row[1].as<std::string>());
  return out;
}

// The bookkeeping tables. A database migrated before checksums existed has schema_migrations
// without the checksum column: it is added here (and filled by adopt_checksums).
void ensure_bookkeeping(pqxx::connection& conn) {
  pqxx::work tx(conn);
  tx.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version int PRIMARY KEY,"
      " name text NOT NULL,"
      " applied_at timestamptz NOT NULL DEFAULT now())");
  if (!has_checksum_column(tx)) tx.exec("ALTER TABLE schema_migrations ADD COLUMN checksum text");
  tx.exec(
      "CREATE TABLE IF NOT EXISTS schema_repeatables ("
      " file text PRIMARY KEY,"
      " checksum text NOT NULL,"
      " applied_at timestamptz NOT NULL DEFAULT now())");
  tx.commit();
}

// Versions recorded without a checksum take the current file's: they were applied before
// checksums existed (this is the one time such a file may have been rewritten).
void adopt_checksums(pqxx::connection& conn, const std::vector<Migration>& versioned,
                     Applied& applied) {
  pqxx::work tx(conn);
  for (const auto& m : versioned) {
    auto it = applied.versions.find(m.version);
    if (it == applied.versions.end() || it->second) continue;
    tx.exec_params("UPDATE schema_migrations SET checksum = $2 WHERE version = $1", m.version,
                   std::string(m.checksum));
    it->second = m.checksum;
  }
  tx.commit();
}

void refuse_edited(const std::vector<Migration>& versioned, const Applied& applied) {
  for (const auto& m : versioned) {
    auto it = applied.versions.find(m.version);
    if (it == applied.versions.end() || !it->second || *it->second == m.checksum) continue;
    throw MigrationEdited(std::string("migration sql/") + m.file +
                          " was edited after it was applied (recorded checksum " + *it->second +
                          ", file " + m.checksum +
                          "): restore it and put the change in a new migration");
  }
}

void apply_versioned(pqxx::connection& conn, const std::vector<Migration>& versioned,
                     Applied& applied, MigrationReport& report) {
  for (const auto& m : versioned) {
    if (applied.versions.count(m.version) != 0) continue;
    pqxx::work tx(conn);
    tx.exec(m.sql);
    tx.exec_params(
        "INSERT INTO schema_migrations (version, name, applied_at, checksum) "
        "VALUES ($1, $2, now(), $3)",
        m.version, std::string(m.name), std::string(m.checksum));
    tx.commit();
    report.applied.push_back(m.version);
    applied.versions.emplace(m.version, m.checksum);
  }
}

void apply_repeatables(pqxx::connection& conn, const std::vector<Repeatable>& repeatables,
                       Applied& applied, MigrationReport& report) {
  for (const auto& r : repeatables) {
    auto it = applied.repeatables.find(r.file);
    if (it != applied.repeatables.end() && it->second == r.checksum) continue;
    pqxx::work tx(conn);
    tx.exec(r.sql);
    tx.exec_params(
        "INSERT INTO schema_repeatables (file, checksum, applied_at) VALUES ($1, $2, now()) "
        "ON CONFLICT (file) DO UPDATE SET checksum = excluded.checksum, applied_at = now()",
        std::string(r.file), std::string(r.checksum));
    tx.commit();
    report.repeatables.emplace_back(r.file);
    applied.repeatables[r.file] = r.checksum;
  }
}

}  // namespace

MigrationReport apply_migrations(pqxx::connection& conn) {
  return apply_migrations(conn, embedded_migrations(), embedded_repeatables());
}

MigrationReport apply_migrations(pqxx::connection& conn, const std::vector<Migration>& versioned,
                                 const std::vector<Repeatable>& repeatables) {
  AdvisoryLock lock(conn);
  ensure_bookkeeping(conn);
  Applied applied = [&] {
    pqxx::read_transaction tx(conn);
    return read_applied(tx);
  }();
  adopt_checksums(conn, versioned, applied);
  refuse_edited(versioned, applied);
  MigrationReport report;
  apply_versioned(conn, versioned, applied, report);
  apply_repeatables(conn, repeatables, applied, report);
  report.current = applied.versions.empty() ? 0 : applied.versions.rbegin()->first;
  return report;
}

bool migrations_current(pqxx::connection& conn) {
  const Applied applied = [&] {
    pqxx::read_transaction tx(conn);
    return read_applied(tx);
  }();
  for (const auto& m : embedded_migrations()) {
    if (applied.versions.count(m.version) == 0) return false;
  }
  for (const auto& r : embedded_repeatables()) {
    auto it = applied.repeatables.find(r.file);
    if (it == applied.repeatables.end() || it->second != r.checksum) return false;
  }
  return true;
}

MigrationStatus migration_status(pqxx::connection& conn) {
  const Applied applied = [&] {
    pqxx::read_transaction tx(conn);
    return read_applied(tx);
  }();
  MigrationStatus st;
  st.applied = static_cast<int>(applied.versions.size());
  std::map<int, bool> embedded;
  for (const auto& m : embedded_migrations()) {
    embedded[m.version] = true;
    auto it = applied.versions.find(m.version);
    if (it == applied.versions.end()) {
      st.missing.push_back(m.version);
    } else if (it->second && *it->second != m.checksum) {
      st.edited.emplace_back(m.file);
    }
  }
  for (const auto& [version, checksum] : applied.versions)
    if (embedded.count(version) == 0) st.unknown.push_back(version);
  for (const auto& r : embedded_repeatables()) {
    auto it = applied.repeatables.find(r.file);
    if (it == applied.repeatables.end() || it->second != r.checksum)
      st.stale_repeatables.emplace_back(r.file);
  }
  return st;
}

}  // namespace orders::pg
