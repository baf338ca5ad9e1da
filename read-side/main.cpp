// read-side: the query service and projector. Only wiring: settings, subcommand, run.
#include <malloc.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "common/config/settings.hpp"
#include "common/http/server.hpp"
#include "common/log/crash_report.hpp"
#include "common/log/logger.hpp"
#include "read-side/parking/parking_cli.hpp"
#include "read-side/rebuild/rebuild.hpp"
#include "read-side/service.hpp"
#include "read-side/settings.hpp"

namespace {

constexpr const char* kUsage =
    "Usage: read-side [serve|migrate|rebuild-projection NAME|--all [--dry-run]|parked [--json]|\n"
    "                  unpark ORDER_ID] [--help]\n"
    "  serve               (default) apply the event stream to the query tables and serve queries\n"
    "  migrate             apply the SQL migrations and exit\n"
    "  rebuild-projection  rebuild a projection (orders, customers) from the event store\n"
    "  parked              list the parked (poison) events per order\n"
    "  unpark              apply an order's parked events again (after a fix); it is live again\n"
    "Settings (environment variables):\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace orders;
  log::install_crash_report();
  std::string command = argc > 1 ? argv[1] : "serve";
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      config::Settings defaults(read_side::setting_specs());
      std::cout << kUsage << defaults.help_text();
      return 0;
    }
  }
  try {
    auto settings = config::Settings::from_env(read_side::setting_specs());
    settings.one_of("LOG_LEVEL",
                    {"debug", "info", "warn", "error"});  // parse_level alone falls back to info
    log::Logger logger("read-side", log::parse_level(settings.str("LOG_LEVEL")));
    if (command == "serve") {
      // Before any thread starts, so that all inherit the mask and SIGTERM waits for the sigwait
      // of the graceful stop (and SIGPIPE is ignored). Not for the CLI: Ctrl-C stops a rebuild.
      http::block_termination_signals();
      // A catch-up group allocates and frees tens of megabytes at a time: keep the freed memory
      // instead of returning it to the kernel and faulting it in again for the next group.
      mallopt(M_TRIM_THRESHOLD, 256 << 20);
      mallopt(M_TOP_PAD, 64 << 20);
      return read_side::serve(settings, logger);
    }
    if (command == "migrate") return read_side::migrate(settings, logger);
    if (command == "rebuild-projection") {
      return read_side::rebuild::rebuild_projection_main(
          settings.str("DATABASE_URL"), std::vector<std::string>(argv + 2, argv + argc), std::cout,
          std::cerr, isatty(STDOUT_FILENO) == 1);
    }
    const std::vector<std::string> rest(argv + 2 > argv + argc ? argv + argc : argv + 2,
                                        argv + argc);
    if (command == "parked") {
      return read_side::parking::parked_main(settings.str("DATABASE_URL"), rest, std::cout,
                                             std::cerr);
    }
    if (command == "unpark") {
      return read_side::parking::unpark_main(settings.str("DATABASE_URL"), rest, std::cout,
                                             std::cerr);
    }
    std::cerr << "unknown command: " << command << "\n" << kUsage;
    return 64;
  } catch (const config::ConfigError& e) {
    std::cerr << "configuration error: " << e.what() << "\n";
    return 78;
  } catch (const std::exception& e) {
    std::cerr << "read-side: " << e.what() << "\n";
    return 1;
  }
}
