#include "read-side/cli/projections_cli.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/cli/exit_code.hpp"
#include "common/pg/pool.hpp"
#include "read-side/query/projection_status.hpp"

namespace orders::read_side::commands {
namespace {

std::vector<ProjectionStatus> read_status(pqxx::connection& conn) {
  prepare_status_statements(conn);
  pqxx::read_transaction tx(conn);
  return read_projection_status(tx);
}

std::vector<std::string> lagging(const std::vector<ProjectionStatus>& all, double max_lag) {
  std::vector<std::string> out;
  for (const auto& s : all)
    if (s.lag_seconds > max_lag) out.push_back(s.name);
  return out;
}

std::string names(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& n : v) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void print_table(const std::vector<ProjectionStatus>& all, std::ostream& out) {
  char line[256];
  std::snprintf(line, sizeof line, "%-12s %-11s %14s %11s %12s %7s\n", "PROJECTION", "STATE",
                "LAST_POSITION", "LAG_EVENTS", "LAG_SECONDS", "PARKED");
  out << line;
  for (const auto& s : all) {
    std::snprintf(line, sizeof line, "%-12s %-11s %14lld %11lld %12.3f %7lld\n", s.name.c_str(),
                  s.state.c_str(), static_cast<long long>(s.last_position),
                  static_cast<long long>(s.lag_events), s.lag_seconds,
                  static_cast<long long>(s.parked));
    out << line;
  }
}

int run_projections(const cli::Invocation& in) {
  const double max_lag = in.args.number("--max-lag-seconds", kDefaultMaxLagSeconds, 0, 1e9);
  pqxx::connection conn(
      pg::with_connect_timeout(in.settings.str("DATABASE_URL"), std::chrono::seconds(3)));
  const auto all = read_status(conn);
  const auto late = lagging(all, max_lag);
  if (in.args.flag("--json")) {
    auto list = nlohmann::json::array();
    for (const auto& s : all) {
      list.push_back({{"name", s.name},
                      {"state", s.state},
                      {"last_position", s.last_position},
                      {"lag_events", s.lag_events},
                      {"lag_seconds", s.lag_seconds},
                      {"parked", s.parked},
                      {"lagging", s.lag_seconds > max_lag}});
    }
    in.out << nlohmann::json{{"max_lag_seconds", max_lag}, {"projections", list}}.dump(2) << "\n";
  } else {
    print_table(all, in.out);
  }
  if (late.empty()) return cli::kOk;
  in.err << "projections: lagging more than " << max_lag << " s: " << names(late) << "\n";
  return cli::kCheckFailed;
}

}  // namespace

cli::OptionSpec max_lag_option() {
  return {"--max-lag-seconds", "S", "a projection whose lag exceeds S seconds fails (30)"};
}

cli::Command projections_command() {
  cli::CommandSpec spec;
  spec.name = "projections";
  spec.summary = "each projection's state, position, lag and parked events; exit 1 when lagging";
  spec.options = {{"--json", "", "one JSON document"}, max_lag_option()};
  spec.description =
      "  Lag: sequenced events (global_log) not yet applied, and the age of the oldest of them.";
  return {std::move(spec), run_projections};
}

ops::ExtraCheck projections_check(double max_lag_seconds) {
  return {"projections", [max_lag_seconds](pqxx::connection& conn) {
            const auto all = read_status(conn);
            const auto late = lagging(all, max_lag_seconds);
            std::string detail;
            for (const auto& s : all) {
              char part[160];
              std::snprintf(part, sizeof part, "%s%s %s, lag %lld events / %.1f s",
                            detail.empty() ? "" : "; ", s.name.c_str(), s.state.c_str(),
                            static_cast<long long>(s.lag_events), s.lag_seconds);
              detail += part;
            }
            if (!all.empty()) detail += "; parked " + std::to_string(all.front().parked);
            detail += " (limit " + std::to_string(static_cast<long long>(max_lag_seconds)) + " s)";
            return ops::CheckResult{"projections", late.empty(), detail};
          }};
}

}  // namespace orders::read_side::commands
