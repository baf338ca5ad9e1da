// The `check` subcommand as both binaries declare it: options --json and --max-backlog N, plus
// the binary's own options and checks.
#pragma once
#include <functional>
#include <vector>

#include "common/cli/program.hpp"
#include "common/ops/stack_check.hpp"

namespace orders::ops {

using ExtraChecks = std::function<std::vector<ExtraCheck>(const cli::Args&)>;

// Reads DATABASE_URL, NATS_URL and NATS_STREAM from the settings. Exit 0 all passed, 1 some
// failed (the listing names them), 64 bad arguments.
cli::Command check_command(std::vector<cli::OptionSpec> extra_options = {},
                           const ExtraChecks& extra_checks = {});

}  // namespace orders::ops
