// write-side archive-export --year YYYY --out DIR [--events-per-file N] [--json]
// write-side archive-export --verify DIR [--json]
// Writes a year's archive partition to compressed files with a manifest and checksums (what to
// keep before archive-drop), or checks such a directory: docs/storage.md.
#pragma once
#include "common/cli/program.hpp"

namespace orders::write_side::cli {

orders::cli::Command archive_export_command();

}  // namespace orders::write_side::cli
