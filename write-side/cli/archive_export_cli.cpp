#include "write-side/cli/archive_export_cli.hpp"

#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/cli/exit_code.hpp"
#include "common/pg/pool.hpp"
#include "write-side/cli/archive_export_files.hpp"
#include "write-side/store/archive_export_store.hpp"
#include "write-side/store/archive_store.hpp"

namespace orders::write_side::cli {
namespace {

namespace c = orders::cli;

constexpr int kPage = 5000;  // events per read

int run_verify(const c::Invocation& in, const std::string& dir) {
  ExportManifest m;
  const auto problem = verify_export(dir, m);
  if (in.args.flag("--json")) {
    in.out << nlohmann::json{{"ok", problem.empty()},
                             {"problem", problem},
                             {"year", m.year},
                             {"events", m.events},
                             {"files", m.files.size()}}
                  .dump()
           << "\n";
  } else if (problem.empty()) {
    in.out << "archive-export: " << dir << " is intact: " << m.events << " events of " << m.year
           << " in " << m.files.size() << " files\n";
  } else {
    in.err << "archive-export: " << dir << ": " << problem << "\n";
  }
  return problem.empty() ? c::kOk : c::kCheckFailed;
}

int run_export(const c::Invocation& in) {
  if (!in.args.value("--year")) throw c::UsageError("archive-export: --year YYYY is required");
  const int year = static_cast<int>(in.args.integer("--year", 0, 1970, 9999));
  const auto out_dir = in.args.value("--out");
  if (!out_dir || out_dir->empty()) throw c::UsageError("archive-export: --out DIR is required");
  const auto per_file = in.args.integer("--events-per-file", 100000, 1, 100000000);
  auto conn = std::make_unique<pqxx::connection>(
      pg::with_connect_timeout(in.settings.str("DATABASE_URL"), std::chrono::seconds(3)));
  prepare_archive_statements(*conn);
  if (!archive_tier_present(*conn)) {
    in.err << "archive-export: the database has no archive tier yet: run `write-side migrate`\n";
    return c::kConfig;
  }
  prepare_archive_export_statements(*conn);
  ExportWriter writer(*out_dir, year, per_file);
  std::int64_t after = 0;
  for (;;) {
    const auto page = year_event_lines(*conn, year, after, kPage);
    for (const auto& line : page) writer.add(line);
    if (static_cast<int>(page.size()) < kPage) break;
    after = page.back().position;
  }
  const auto m = writer.finish();
  std::int64_t bytes = 0;
  for (const auto& f : m.files) bytes += f.bytes;
  if (in.args.flag("--json")) {
    in.out << nlohmann::json{{"year", year},
                             {"events", m.events},
                             {"files", m.files.size()},
                             {"bytes", bytes},
                             {"dir", *out_dir}}
                  .dump()
           << "\n";
  } else {
    in.out << "archive-export " << year << ": " << m.events << " events in " << m.files.size()
           << " files, " << bytes << " bytes compressed, manifest " << *out_dir << "/"
           << kManifestName << "\n";
  }
  return c::kOk;
}

int run(const c::Invocation& in) {
  if (const auto dir = in.args.value("--verify")) {
    if (in.args.value("--year") || in.args.value("--out"))
      throw c::UsageError("archive-export: --verify DIR takes no --year or --out");
    return run_verify(in, *dir);
  }
  return run_export(in);
}

}  // namespace

orders::cli::Command archive_export_command() {
  c::CommandSpec spec;
  spec.name = "archive-export";
  spec.summary = "write a year's archive to compressed files with a manifest, or verify them";
  spec.options = {
      {"--year", "YYYY", "the archive partition to export (the year of the archive run)"},
      {"--out", "DIR", "the directory to write (created; an earlier export replaced)"},
      {"--events-per-file", "N", "events per gzip file (100000)"},
      {"--verify", "DIR", "check an export against its manifest instead; exit 1 if not"},
      {"--json", "", "the summary as one JSON object"}};
  spec.description =
      "  One line of JSON per event, exactly as stored (data and metadata not upcast) with its\n"
      "  global position, in position order, gzip-compressed, N events a file; manifest.json\n"
      "  lists each file's events, position range, size and SHA-256 and is written last, so a\n"
      "  directory with a manifest holds a complete export. It reads the archive only (runs\n"
      "  beside the service). `archive-drop --require-export DIR` refuses to drop a year whose\n"
      "  export there is not intact and complete.";
  return {std::move(spec), run};
}

}  // namespace orders::write_side::cli
