// `read-side projections [--json] [--max-lag-seconds S]`: each projection's state, position, lag
// and parked events (what GET /projections answers, straight from Postgres); exit 1 when one
// lags by more than S seconds. The same judgement is read-side check's "projections" check.
#pragma once
#include "common/cli/program.hpp"
#include "common/ops/stack_check.hpp"

namespace orders::read_side::commands {

inline constexpr double kDefaultMaxLagSeconds = 30;

cli::Command projections_command();
ops::ExtraCheck projections_check(double max_lag_seconds);
cli::OptionSpec max_lag_option();

}  // namespace orders::read_side::commands
