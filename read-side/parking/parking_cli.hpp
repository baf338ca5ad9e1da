// The operator subcommands over parked events: `read-side parked [--json]` lists them,
// `read-side unpark ORDER_ID` retries one order's (after a fix). Exit codes (common/cli): 0 done,
// 1 the events still fail (they stay parked), 64 bad arguments, 66 the order has no parked events,
// 69 PostgreSQL unreachable.
#pragma once
#include "common/cli/program.hpp"

namespace orders::read_side::parking {

cli::Command parked_command();
cli::Command unpark_command();

}  // namespace orders::read_side::parking
