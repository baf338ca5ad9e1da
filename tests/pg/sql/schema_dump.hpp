// The schema of a database as stable text: pg_dump --schema-only without owners, privileges,
// comments, SET lines and \restrict keys (so two dumps of equal schemas are equal strings).
#pragma once
#include <string>

namespace orders::testing {

std::string dump_schema(const std::string& database_url);
// pg_dump output normalized as dump_schema does.
std::string normalize_dump(const std::string& dump);
// diff -u of two texts (for failure messages).
std::string unified_diff(const std::string& expected, const std::string& actual);

std::string read_text_file(const std::string& path);
void write_text_file(const std::string& path, const std::string& text);

}  // namespace orders::testing
