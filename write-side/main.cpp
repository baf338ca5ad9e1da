// write-side: wiring only. The subcommands, --help, --version and the exit codes come from
// common/cli; each command's work lives in its own file.
#include <iostream>
#include <string>
#include <vector>

#include "common/cli/program.hpp"
#include "common/http/server.hpp"
#include "common/log/crash_report.hpp"
#include "common/log/logger.hpp"
#include "common/ops/check_command.hpp"
#include "write-side/cli/archive_cli.hpp"
#include "write-side/cli/archive_drop_cli.hpp"
#include "write-side/cli/archive_export_cli.hpp"
#include "write-side/cli/log_cli.hpp"
#include "write-side/service.hpp"
#include "write-side/settings.hpp"

namespace {

using namespace orders;

log::Logger make_logger(const config::Settings& settings) {
  settings.one_of("LOG_LEVEL", {"debug", "info", "warn", "error"});  // parse_level falls back
  return log::Logger("write-side", log::parse_level(settings.str("LOG_LEVEL")));
}

cli::Command service_command(std::string name, std::string summary,
                             int (*run)(const config::Settings&, log::Logger&)) {
  cli::CommandSpec spec;
  spec.name = std::move(name);
  spec.summary = std::move(summary);
  return {std::move(spec), [run](const cli::Invocation& in) {
            auto logger = make_logger(in.settings);
            return run(in.settings, logger);
          }};
}

cli::Program program() {
  return {
      "write-side",
      "the order service's command side (event store, outbox, relay)",
      write_side::setting_specs(),
      {service_command("serve", "apply migrations, then serve HTTP (SIGTERM: graceful stop)",
                       write_side::serve),
       service_command("migrate", "apply the database migrations and exit", write_side::migrate),
       write_side::cli::events_command(), write_side::cli::log_command(),
       write_side::cli::archive_command(), write_side::cli::archive_drop_command(),
       write_side::cli::archive_export_command(), ops::check_command()}};
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread starts: every thread inherits the mask, so SIGTERM waits for the graceful
  // stop's sigwait (serve) or the follower's sigtimedwait (log --follow).
  orders::http::block_termination_signals();
  orders::log::install_crash_report();
  return orders::cli::run_program(program(), std::vector<std::string>(argv + 1, argv + argc),
                                  std::cout, std::cerr);
}
