#include "tests/pg/sql/schema_dump.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace orders::testing {
namespace {

// The pg_dump of the server's major version when installed (Debian layout), else the one on PATH.
std::string pg_dump_binary() {
  for (const char* candidate :
       {"/usr/lib/postgresql/15/bin/pg_dump", "/usr/lib/postgresql/16/bin/pg_dump",
        "/usr/lib/postgresql/17/bin/pg_dump"}) {
    if (std::filesystem::exists(candidate)) return candidate;
  }
  return "pg_dump";
}

std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string out;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe.get())) > 0) out.append(buf.data(), n);
  return out;
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

bool noise(const std::string& line) {
  return starts_with(line, "--") || starts_with(line, "SET ") ||
         starts_with(line, "SELECT pg_catalog.set_config(") || starts_with(line, "\\restrict ") ||
         starts_with(line, "\\unrestrict ");
}

}  // namespace

std::string normalize_dump(const std::string& dump) {
  std::istringstream in(dump);
  std::string out;
  std::string line;
  bool blank_pending = false;
  while (std::getline(in, line)) {
    if (noise(line)) continue;
    if (line.empty()) {
      blank_pending = !out.empty();
      continue;
    }
    if (blank_pending) out += '\n';
    blank_pending = false;
    out += line;
    out += '\n';
  }
  return out;
}

std::string dump_schema(const std::string& database_url) {
  const std::string command =
      pg_dump_binary() + " --schema-only --no-owner --no-privileges '" + database_url + "'";
  std::string dump = run(command);
  if (dump.find("CREATE TABLE") == std::string::npos)
    throw std::runtime_error("pg_dump printed no schema: " + command);
  return normalize_dump(dump);
}

std::string unified_diff(const std::string& expected, const std::string& actual) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto a = (dir / ("schema_expected_" + std::to_string(getpid()) + ".sql")).string();
  const auto b = (dir / ("schema_actual_" + std::to_string(getpid()) + ".sql")).string();
  write_text_file(a, expected);
  write_text_file(b, actual);
  auto diff = run("diff -u '" + a + "' '" + b + "'");
  std::filesystem::remove(a);
  std::filesystem::remove(b);
  return diff;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace orders::testing
