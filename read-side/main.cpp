// read-side: the query service and projector. Only wiring: the subcommands, --help, --version and
// the exit codes come from common/cli; each command's work lives in its own file.
#include <malloc.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "common/cli/program.hpp"
#include "common/http/server.hpp"
#include "common/log/crash_report.hpp"
#include "common/log/logger.hpp"
#include "common/ops/check_command.hpp"
#include "read-side/cli/projections_cli.hpp"
#include "read-side/parking/parking_cli.hpp"
#include "read-side/rebuild/rebuild.hpp"
#include "read-side/service.hpp"
#include "read-side/settings.hpp"

namespace {

using namespace orders;

log::Logger make_logger(const config::Settings& settings) {
  settings.one_of("LOG_LEVEL", {"debug", "info", "warn", "error"});  // parse_level falls back
  return log::Logger("read-side", log::parse_level(settings.str("LOG_LEVEL")));
}

cli::Command serve_command() {
  cli::CommandSpec spec;
  spec.name = "serve";
  spec.summary = "apply the event stream to the query tables and serve queries";
  return {std::move(spec), [](const cli::Invocation& in) {
            auto logger = make_logger(in.settings);
            // Before any thread starts, so that all inherit the mask and SIGTERM waits for the
            // sigwait of the graceful stop (and SIGPIPE is ignored). Not for the other commands:
            // Ctrl-C stops a rebuild.
            http::block_termination_signals();
            // A catch-up group allocates and frees tens of megabytes at a time: keep the freed
            // memory instead of returning it to the kernel and faulting it in again.
            mallopt(M_TRIM_THRESHOLD, 256 << 20);
            mallopt(M_TOP_PAD, 64 << 20);
            return read_side::serve(in.settings, logger);
          }};
}

cli::Command migrate_command() {
  cli::CommandSpec spec;
  spec.name = "migrate";
  spec.summary = "apply the SQL migrations and exit";
  return {std::move(spec), [](const cli::Invocation& in) {
            auto logger = make_logger(in.settings);
            return read_side::migrate(in.settings, logger);
          }};
}

cli::Command rebuild_command() {
  cli::CommandSpec spec;
  spec.name = "rebuild-projection";
  spec.summary = "rebuild projections (orders, customers) from the event store, no downtime";
  spec.positionals = {"NAME..."};
  spec.variadic = true;
  spec.options = {{"--all", "", "every projection"},
                  {"--dry-run", "", "build and compare, then drop the shadow tables"}};
  spec.description = read_side::rebuild::rebuild_usage();
  return {std::move(spec), [](const cli::Invocation& in) {
            std::vector<std::string> args = in.args.positionals();
            for (const char* flag : {"--all", "--dry-run"})
              if (in.args.flag(flag)) args.emplace_back(flag);
            return read_side::rebuild::rebuild_projection_main(
                in.settings.str("DATABASE_URL"), args, in.out, in.err, isatty(STDOUT_FILENO) == 1);
          }};
}

cli::Program program() {
  using read_side::commands::kDefaultMaxLagSeconds;
  auto check = ops::check_command({read_side::commands::max_lag_option()}, [](const cli::Args& a) {
    return std::vector<ops::ExtraCheck>{read_side::commands::projections_check(
        a.number("--max-lag-seconds", kDefaultMaxLagSeconds, 0, 1e9))};
  });
  check.spec.description += "\n    projections every projection's lag at most --max-lag-seconds";
  return {"read-side",
          "the order service's query side (projector, query API, rebuild)",
          read_side::setting_specs(),
          {serve_command(), migrate_command(), rebuild_command(),
           read_side::parking::parked_command(), read_side::parking::unpark_command(),
           read_side::commands::projections_command(), std::move(check)}};
}

}  // namespace

int main(int argc, char** argv) {
  orders::log::install_crash_report();
  return orders::cli::run_program(program(), std::vector<std::string>(argv + 1, argv + argc),
                                  std::cout, std::cerr);
}
