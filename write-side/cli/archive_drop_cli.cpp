#include "write-side/cli/archive_drop_cli.hpp"

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/cli/exit_code.hpp"
#include "common/cli/termination.hpp"
#include "common/pg/pool.hpp"
#include "write-side/cli/archive_export_files.hpp"
#include "write-side/store/archive_drop_store.hpp"
#include "write-side/store/archive_store.hpp"
#include "write-side/store/event_store.hpp"

namespace orders::write_side::cli {
namespace {

namespace c = orders::cli;

struct DropOptions {
  int year = 0;
  bool dry_run = false;
  int batch_orders = 500;
  bool json = false;
  std::optional<std::string> require_export;  // an export directory that must match the year
};

DropOptions parse_options(const c::Invocation& in) {
  DropOptions o;
  if (!in.args.value("--year")) throw c::UsageError("archive-drop: --year YYYY is required");
  o.year = static_cast<int>(in.args.integer("--year", 0, 1970, 9999));
  o.dry_run = in.args.flag("--dry-run");
  o.batch_orders = static_cast<int>(in.args.integer("--batch-orders", 500, 1, 100000));
  o.json = in.args.flag("--json");
  o.require_export = in.args.value("--require-export");
  return o;
}

// With --require-export DIR: "" when DIR holds an intact export of exactly the year's events.
std::string export_problem(const DropOptions& o, const ArchiveYear& y) {
  if (!o.require_export) return "";
  ExportManifest m;
  if (auto problem = verify_export(*o.require_export, m); !problem.empty()) return problem;
  if (m.year != o.year || m.events != y.events) {
    return "the export holds " + std::to_string(m.events) + " events of " + std::to_string(m.year) +
           ", the archive of " + std::to_string(o.year) + " " + std::to_string(y.events);
  }
  return "";
}

void print_summary(const c::Invocation& in, const DropOptions& o, const ArchiveYear& y,
                   std::int64_t snapshots, std::int64_t dropped) {
  if (o.json) {
    in.out << nlohmann::json{{"year", o.year},         {"dry_run", o.dry_run},
                             {"present", y.present},   {"orders", y.orders},
                             {"events", y.events},     {"bytes", y.bytes},
                             {"snapshots", snapshots}, {"orders_dropped", dropped}}
                  .dump()
           << "\n";
    return;
  }
  if (!y.present && y.orders == 0) {
    in.out << "archive-drop: no archive for " << o.year << " (nothing to drop)\n";
    return;
  }
  in.out << "archive-drop " << o.year << (o.dry_run ? " (dry run, nothing dropped): " : ": ")
         << y.orders << " orders, " << y.events << " events, " << y.bytes << " bytes "
         << (o.dry_run ? "would be dropped" : "dropped") << "; " << snapshots
         << " final snapshots written\n";
}

// Phase 1: every order of the year gets its final state as a snapshot, batch by batch (a rerun
// after a kill writes them again: equal snapshots are kept). False when a signal stopped it.
bool write_snapshots(pqxx::connection& conn, const DropOptions& o, std::int64_t& written) {
  c::TerminationWait signals;
  std::string after;
  for (;;) {
    if (signals.wait_for(std::chrono::milliseconds(0))) return false;
    const auto page = year_orders(conn, o.year, after, o.batch_orders);
    if (page.empty()) return true;
    write_final_snapshots(conn, page);
    written += static_cast<std::int64_t>(page.size());
    after = page.back();
  }
}

int run_drop(const c::Invocation& in) {
  const auto o = parse_options(in);
  auto conn = std::make_unique<pqxx::connection>(
      pg::with_connect_timeout(in.settings.str("DATABASE_URL"), std::chrono::seconds(3)));
  prepare_archive_statements(*conn);
  prepare_archive_drop_statements(*conn);
  prepare_statements(*conn);
  if (!archive_tier_present(*conn)) {
    in.err << "archive-drop: the database has no archive tier yet: run `write-side migrate`\n";
    return c::kConfig;
  }
  if (const int now = current_year(*conn); o.year >= now) {
    in.err << "archive-drop: the archive of " << o.year
           << " may still receive orders; only years before " << now << " can be dropped\n";
    return c::kUsage;
  }
  if (!try_lock_archive(*conn)) {
    in.err << "archive-drop: an archive run is active (it holds the archive lock); try later\n";
    return c::kTempFail;
  }
  const auto year = archive_year(*conn, o.year);
  if (const auto problem = export_problem(o, year); !problem.empty()) {
    in.err << "archive-drop: not dropping " << o.year << ": " << *o.require_export << ": "
           << problem << "\n";
    return c::kCheckFailed;
  }
  std::int64_t snapshots = 0;
  std::int64_t dropped = 0;
  if (!o.dry_run && (year.present || year.orders > 0)) {
    if (!write_snapshots(*conn, o, snapshots)) {
      in.err << "archive-drop: interrupted before the drop: run it again\n";
      return c::kTempFail;
    }
    dropped = drop_year(*conn, o.year);
  }
  print_summary(in, o, year, snapshots, dropped);
  return c::kOk;
}

}  // namespace

orders::cli::Command archive_drop_command() {
  c::CommandSpec spec;
  spec.name = "archive-drop";
  spec.summary = "remove the archived history of a past year (drops its archive partition)";
  spec.options = {{"--year", "YYYY", "the year the orders were archived in (before this year)"},
                  {"--dry-run", "", "say what would be dropped; drop nothing"},
                  {"--batch-orders", "N", "orders per snapshot batch (500)"},
                  {"--require-export", "DIR",
                   "drop only if DIR holds an intact archive-export of the year (else exit 1)"},
                  {"--json", "", "the summary as one JSON object"}};
  spec.description =
      "  `write-side archive` puts each order into the archive partition of the year it ran in\n"
      "  (events_archive_y<YYYY>). archive-drop first stores every such order's final state as\n"
      "  its snapshot, then, in one transaction, marks the orders dropped and drops the\n"
      "  partition: their events are gone (/events answers 404 saying so), while commands still\n"
      "  answer the 409 they did and /state shows the last state. A rebuild of a projection then\n"
      "  leaves those orders out. Killed at any moment, nothing is half done: rerun it. Exit 64\n"
      "  for this year or a later one, 75 when an archive run holds the archive lock.";
  return {std::move(spec), run_drop};
}

}  // namespace orders::write_side::cli
