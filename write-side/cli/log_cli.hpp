// The operator's views of the event store:
//   write-side events ORDER_ID [--from-version N] [--json]   one order's events (66: no such order)
//   write-side log [--from-position P] [--limit N] [--follow] [--json]
//                                                            the dense global log, in order
#pragma once
#include "common/cli/program.hpp"

namespace orders::write_side::cli {

orders::cli::Command events_command();
orders::cli::Command log_command();

}  // namespace orders::write_side::cli
