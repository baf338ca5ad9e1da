// Schema migrations embedded at build time (sql/CMakeLists.txt), applied under an advisory lock so
// that concurrent starters serialize. Versioned files (sql/V<nnn>__name.sql) run once, in order,
// each in its own transaction; an applied one must never change (its SHA-256 is recorded).
// Repeatable files (sql/functions/<name>.sql, one function each) run after them, in file order,
// each in its own transaction, whenever their checksum differs from the one recorded.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace orders::pg {

struct Migration {
  int version;
  const char* name;  // recorded in schema_migrations.name
  const char* file;  // "V015__relay_sequence_committed_rows.sql"
  const char* sql;
  const char* checksum;  // SHA-256 hex of the file
};

struct Repeatable {
  const char* file;  // "functions/relay_step.sql"
  const char* sql;
  const char* checksum;
};

const std::vector<Migration>& embedded_migrations();
const std::vector<Repeatable>& embedded_repeatables();

// An applied versioned migration whose text is no longer the one that ran: the database and the
// sources disagree, so the service must not start. what() names the file.
struct MigrationEdited : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct MigrationReport {
  std::vector<int> applied;              // versions applied by this call
  std::vector<std::string> repeatables;  // repeatable files (re)applied by this call
  int current = 0;                       // highest version now in the database
};

// Applies what is missing; throws MigrationEdited (nothing applied) or the failing statement's
// error (that migration rolled back, earlier ones kept).
MigrationReport apply_migrations(pqxx::connection& conn);
MigrationReport apply_migrations(pqxx::connection& conn, const std::vector<Migration>& versioned,
                                 const std::vector<Repeatable>& repeatables);

// True when every embedded migration is applied and every repeatable is at its current checksum
// (for /readyz).
bool migrations_current(pqxx::connection& conn);

// What the database has against what this binary embeds, read only (for `check`).
struct MigrationStatus {
  int applied = 0;                             // versioned migrations recorded
  std::vector<int> missing;                    // embedded, not applied
  std::vector<std::string> edited;             // applied with another checksum: their files
  std::vector<std::string> stale_repeatables;  // not at the embedded checksum: their files
  std::vector<int> unknown;                    // applied but not embedded (a newer binary ran)
  bool current() const { return missing.empty() && edited.empty() && stale_repeatables.empty(); }
};
MigrationStatus migration_status(pqxx::connection& conn);

}  // namespace orders::pg
