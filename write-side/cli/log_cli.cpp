#include "write-side/cli/log_cli.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>

#include <pqxx/pqxx>

#include "common/cli/exit_code.hpp"
#include "common/cli/termination.hpp"
#include "common/domain/ids.hpp"
#include "common/pg/pool.hpp"
#include "write-side/cli/event_output.hpp"
#include "write-side/store/event_store.hpp"
#include "write-side/store/log_reads.hpp"

namespace orders::write_side::cli {
namespace {

namespace c = orders::cli;

constexpr std::int64_t kPage = 1000;
constexpr std::chrono::milliseconds kPollInterval{200};
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

std::unique_ptr<pqxx::connection> connect(const c::Invocation& in) {
  return std::make_unique<pqxx::connection>(
      pg::with_connect_timeout(in.settings.str("DATABASE_URL"), std::chrono::seconds(3)));
}

void print(const c::Invocation& in, const std::vector<codec::RecordedEvent>& events, bool json) {
  for (const auto& e : events) {
    if (json) {
      in.out << event_json(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
             << "\n";
    } else {
      in.out << event_line(e);
    }
  }
  in.out.flush();
}

int run_events(const c::Invocation& in) {
  const std::string& id = in.args.positional(0);
  if (!domain::valid_id(id)) {
    throw c::UsageError("events: '" + id + "' is not an order id (1-128 letters, digits, - _ . :)");
  }
  const auto from = in.args.integer("--from-version", 1, 1, kMax);
  const bool json = in.args.flag("--json");
  auto conn = connect(in);
  prepare_statements(*conn);
  try {
    const auto events = read_order_events(*conn, id, from, kMax);
    if (events.empty() && stream_version(*conn, id) == 0) {
      in.err << "events: order " << id << " does not exist\n";
      return c::kNoInput;
    }
    if (json) {
      auto list = nlohmann::json::array();
      for (const auto& e : events) list.push_back(event_json(e));
      in.out << nlohmann::json{{"order_id", id}, {"events", std::move(list)}}.dump(
                    2, ' ', false, nlohmann::json::error_handler_t::replace)
             << "\n";
      return c::kOk;
    }
    in.out << "order " << id << ": " << events.size() << " events from version " << from << "\n"
           << event_header();
    print(in, events, false);
    return c::kOk;
  } catch (const CorruptStream& e) {
    in.err << "events: " << e.what() << "\n";
    return c::kDataError;
  }
}

int run_log(const c::Invocation& in) {
  std::int64_t next = in.args.integer("--from-position", 1, 1, kMax);
  const bool follow = in.args.flag("--follow");
  const bool json = in.args.flag("--json");
  std::int64_t left = in.args.integer("--limit", follow ? kMax : 100, 1, kMax);
  c::TerminationWait signals;  // before the first read: a SIGTERM during it is not lost
  auto conn = connect(in);
  if (!json && !follow) in.out << event_header();
  try {
    while (left > 0) {
      const auto want = std::min(left, kPage);
      const auto page = read_global_log(*conn, next, want);
      print(in, page, json);
      left -= static_cast<std::int64_t>(page.size());
      if (!page.empty()) next = *page.back().global_position + 1;
      const bool full = static_cast<std::int64_t>(page.size()) == want;  // more may be there
      if (!full && !follow) break;
      if (follow && signals.wait_for(full ? std::chrono::milliseconds(0) : kPollInterval)) break;
    }
  } catch (const CorruptStream& e) {
    in.err << "log: " << e.what() << "\n";
    return c::kDataError;
  }
  return c::kOk;
}

}  // namespace

orders::cli::Command events_command() {
  c::CommandSpec spec;
  spec.name = "events";
  spec.summary = "print one order's events (the audit trail, as stored)";
  spec.positionals = {"ORDER_ID"};
  spec.options = {{"--from-version", "N", "start at version N (1)"},
                  {"--json", "", "one JSON document: {\"order_id\", \"events\": [...]}"}};
  spec.description =
      "  One line per event: global position (- until the relay sequenced it), order, version,\n"
      "  type, recorded_at and the data as stored. Exit 66 when the order does not exist.";
  return {std::move(spec), run_events};
}

orders::cli::Command log_command() {
  c::CommandSpec spec;
  spec.name = "log";
  spec.summary = "print the global log (every sequenced event, in global order)";
  spec.options = {
      {"--from-position", "P", "start at global position P (1)"},
      {"--limit", "N", "stop after N events (100; with --follow: no limit)"},
      {"--follow", "", "keep printing new events until SIGINT or SIGTERM (then exit 0)"},
      {"--json", "", "one JSON object per line"}};
  spec.description =
      "  The dense, commit-ordered log the bus carries (global position = JetStream sequence).\n"
      "  --follow polls every 200 ms; it never skips an event, even after a restart from the\n"
      "  last position printed + 1.";
  return {std::move(spec), run_log};
}

}  // namespace orders::write_side::cli
