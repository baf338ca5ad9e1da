// write-side archive --older-than DURATION [--dry-run] [--batch-orders N] [--max-batches N]
//                    [--no-vacuum] [--json]
// Moves the events of Delivered orders whose last event is older than DURATION from the hot
// event store into the archive tier, batch by batch (each one transaction), with progress on a
// terminal and a summary (orders, events, bytes). Idempotent, safe to kill: docs/storage.md.
#pragma once
#include "common/cli/program.hpp"

namespace orders::write_side::cli {

orders::cli::Command archive_command();

}  // namespace orders::write_side::cli
