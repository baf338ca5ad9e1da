#include "write-side/cli/archive_cli.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/cli/exit_code.hpp"
#include "common/cli/termination.hpp"
#include "common/pg/pool.hpp"
#include "write-side/cli/duration.hpp"
#include "write-side/store/archive_store.hpp"

namespace orders::write_side::cli {
namespace {

namespace c = orders::cli;
using Clock = std::chrono::steady_clock;

struct RunOptions {
  std::chrono::seconds older_than{0};
  bool dry_run = false;
  int batch_orders = 500;
  std::int64_t max_batches = std::numeric_limits<std::int64_t>::max();
  bool vacuum = true;
  bool compact = false;
  bool json = false;
};

struct Totals {
  std::int64_t orders = 0;
  std::int64_t events = 0;
  std::int64_t bytes = 0;
  std::int64_t batches = 0;
  double seconds = 0;
  bool complete = false;     // the scan reached the horizon
  bool interrupted = false;  // SIGINT / SIGTERM between batches
};

std::string thousands(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
    digits.insert(static_cast<std::size_t>(i), ",");
  }
  return n < 0 ? "-" + digits : digits;
}

RunOptions parse_options(const c::Invocation& in) {
  RunOptions o;
  const auto text = in.args.value("--older-than");
  if (!text) throw c::UsageError("archive: --older-than DURATION is required (e.g. 30d)");
  const auto d = parse_duration(*text);
  if (!d) {
    throw c::UsageError("archive: --older-than '" + *text +
                        "' is not a duration: a positive whole number and one unit of s m h d w "
                        "(90m, 12h, 30d)");
  }
  o.older_than = *d;
  o.dry_run = in.args.flag("--dry-run");
  o.batch_orders = static_cast<int>(in.args.integer("--batch-orders", 500, 1, 100000));
  o.max_batches = in.args.integer("--max-batches", o.max_batches, 1, o.max_batches);
  o.vacuum = !in.args.flag("--no-vacuum");
  o.compact = in.args.flag("--compact");
  if (o.compact && (!o.vacuum || o.dry_run)) {
    throw c::UsageError(
        "archive: --compact rewrites the hot table; not with --no-vacuum or --dry-run");
  }
  o.json = in.args.flag("--json");
  return o;
}

// On a terminal, one line redrawn in place at most every 100 ms; elsewhere nothing (the summary
// says it all, and logs should not fill up with carriage returns).
class ProgressLine {
 public:
  ProgressLine(std::ostream& err, const ArchiveScope& scope)
      : err_(err), tty_(isatty(STDERR_FILENO) == 1), scope_(scope) {}
  void update(const Totals& t, std::int64_t position, bool final) {
    if (!tty_) return;
    const auto now = Clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double span = static_cast<double>(scope_.horizon - scope_.first_position + 1);
    const double done =
        span > 0 ? 100.0 * static_cast<double>(position - scope_.first_position + 1) / span : 100.0;
    char buf[200];
    std::snprintf(
        buf, sizeof buf, "\rarchive: %5.1f%% of the old positions  %s orders  %s events  %s ev/s ",
        final ? 100.0 : std::min(done, 100.0), thousands(t.orders).c_str(),
        thousands(t.events).c_str(),
        thousands(t.seconds > 0
                      ? static_cast<std::int64_t>(static_cast<double>(t.events) / t.seconds)
                      : 0)
            .c_str());
    err_ << buf << (final ? "\n" : "") << std::flush;
  }

 private:
  std::ostream& err_;
  bool tty_;
  ArchiveScope scope_;
  Clock::time_point last_{};
};

// Batches until the horizon, --max-batches, or a signal; each batch its own transaction, so an
// interrupted or killed run leaves every order wholly hot or wholly archived.
Totals run_batches(pqxx::connection& conn, const ArchiveScope& scope, const RunOptions& o,
                   std::ostream& err) {
  Totals t;
  c::TerminationWait signals;
  ProgressLine progress(err, scope);
  const auto started = Clock::now();
  std::int64_t after = scope.first_position - 1;
  while (scope.horizon > 0 && t.batches < o.max_batches) {
    if (signals.wait_for(std::chrono::milliseconds(0))) {
      t.interrupted = true;
      break;
    }
    const auto b = archive_batch(conn, scope, after, o.batch_orders, !o.dry_run);
    ++t.batches;
    t.orders += b.orders;
    t.events += b.events;
    t.bytes += b.bytes;
    t.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    if (b.last_position) after = *b.last_position;
    if (b.orders < o.batch_orders) {
      t.complete = true;
      break;
    }
    progress.update(t, after, false);
  }
  if (scope.horizon == 0) t.complete = true;
  t.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  progress.update(t, scope.horizon, true);
  return t;
}

void print_summary(const c::Invocation& in, const RunOptions& o, const Totals& t,
                   const TierSizes& before, const TierSizes& after) {
  const std::int64_t rate =
      t.seconds > 0 ? static_cast<std::int64_t>(static_cast<double>(t.events) / t.seconds) : 0;
  const std::int64_t freed = before.hot_bytes - after.hot_bytes;
  if (o.json) {
    in.out << nlohmann::json{{"dry_run", o.dry_run},
                             {"orders", t.orders},
                             {"events", t.events},
                             {"row_bytes", t.bytes},
                             {"batches", t.batches},
                             {"seconds", t.seconds},
                             {"events_per_second", rate},
                             {"complete", t.complete},
                             {"interrupted", t.interrupted},
                             {"hot_bytes_before", before.hot_bytes},
                             {"hot_bytes_after", after.hot_bytes},
                             {"archive_bytes_before", before.archive_bytes},
                             {"archive_bytes_after", after.archive_bytes}}
                  .dump()
           << "\n";
    return;
  }
  in.out << (o.dry_run ? "archive (dry run, nothing moved): " : "archive: ") << thousands(t.orders)
         << " orders, " << thousands(t.events) << " events, " << thousands(t.bytes)
         << " bytes of rows " << (o.dry_run ? "would move" : "moved") << " in " << t.batches
         << " batches, " << thousands(rate) << " events/s\n"
         << "hot store (events): " << thousands(before.hot_bytes) << " -> "
         << thousands(after.hot_bytes) << " bytes (" << thousands(freed) << " freed)\n"
         << "archive (events_archive): " << thousands(before.archive_bytes) << " -> "
         << thousands(after.archive_bytes) << " bytes\n"
         << (t.complete      ? "complete\n"
             : t.interrupted ? "interrupted: run it again to finish\n"
                             : "stopped after --max-batches: run it again to go on\n");
}

int run_archive(const c::Invocation& in) {
  const auto o = parse_options(in);
  auto conn = std::make_unique<pqxx::connection>(
      pg::with_connect_timeout(in.settings.str("DATABASE_URL"), std::chrono::seconds(3)));
  prepare_archive_statements(*conn);
  if (!archive_tier_present(*conn)) {
    in.err << "archive: the database has no archive tier yet: run `write-side migrate` first\n";
    return c::kConfig;
  }
  if (!try_lock_archive(*conn)) {
    in.err << "archive: another archive run is active (it holds the archive lock); try later\n";
    return c::kTempFail;
  }
  const auto before = tier_sizes(*conn);
  const auto scope = archive_scope(*conn, o.older_than);
  const auto totals = run_batches(*conn, scope, o, in.err);
  if (o.compact) {
    compact_hot(*conn);
  } else if (!o.dry_run && o.vacuum && totals.events > 0) {
    vacuum_hot(*conn);
  }
  print_summary(in, o, totals, before, tier_sizes(*conn));
  return totals.interrupted ? c::kTempFail : c::kOk;
}

}  // namespace

orders::cli::Command archive_command() {
  c::CommandSpec spec;
  spec.name = "archive";
  spec.summary = "move the events of old Delivered orders from the hot store into the archive";
  spec.options = {
      {"--older-than", "DURATION", "archive orders whose last event is older (90m, 12h, 30d, 2w)"},
      {"--dry-run", "", "count what would move; move nothing"},
      {"--batch-orders", "N", "orders per batch, each batch one transaction (500)"},
      {"--max-batches", "N", "stop after N batches (no limit); a rerun goes on"},
      {"--no-vacuum", "", "skip the VACUUM (ANALYZE) of both tiers after moving"},
      {"--compact", "",
       "then VACUUM FULL the hot table: its file shrinks, but every command waits meanwhile"},
      {"--json", "", "the summary as one JSON object"}};
  spec.description =
      "  An order is archived when it is Delivered and its OrderDelivered event (its last) was\n"
      "  recorded more than DURATION ago: all its events move from `events` to `events_archive`\n"
      "  in one transaction per batch, so a kill at any moment leaves each order wholly in one\n"
      "  tier and a rerun completes the work. Reads (/events, /state, commands, the CLI, the\n"
      "  relay, rebuilds) see both tiers. Progress on stderr when it is a terminal; the summary\n"
      "  (orders, events, row bytes, table sizes before/after) on stdout. Exit 75 when SIGINT or\n"
      "  SIGTERM stopped it between batches, or another archive run is active (one at a time).";
  return {std::move(spec), run_archive};
}

}  // namespace orders::write_side::cli
