// Versioned migrations (sql/V<nnn>__name.sql), embedded at build time and applied in order,
// each in its own transaction, under an advisory lock so concurrent starters serialize.
// Applying twice changes nothing (schema_migrations records what ran).
#pragma once
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace orders::pg {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

const std::vector<Migration>& embedded_migrations();

struct MigrationReport {
  std::vector<int> applied;  // versions applied by this call
  int current = 0;           // highest version now in the database
};

MigrationReport apply_migrations(pqxx::connection& conn);
// True when every embedded migration is recorded as applied (for /readyz).
bool migrations_current(pqxx::connection& conn);

}  // namespace orders::pg
