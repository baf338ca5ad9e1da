// write-side archive-drop --year YYYY [--dry-run] [--batch-orders N] [--json]
// Removes the archived history of one past year by dropping its partition of events_archive,
// after storing each of its orders' final state as a snapshot (commands keep answering 409,
// /state keeps showing the last state). Idempotent, safe to kill: docs/storage.md.
#pragma once
#include "common/cli/program.hpp"

namespace orders::write_side::cli {

orders::cli::Command archive_drop_command();

}  // namespace orders::write_side::cli
