// The one exit-code scheme of both binaries (sysexits.h values; docs/operations.md#exit-codes).
// Every subcommand returns one of these, and exit_code_of() maps an escaped exception to one.
#pragma once
#include <exception>
#include <string>

namespace orders::cli {

enum ExitCode : int {
  kOk = 0,
  kCheckFailed =
      1,        // the command ran and the answer is "no": a check failed, lagging, still failing
  kUsage = 64,  // EX_USAGE: unknown command or option, missing or malformed argument
  kDataError = 65,    // EX_DATAERR: stored data the command cannot read (a corrupt event)
  kNoInput = 66,      // EX_NOINPUT: the named thing does not exist (no such order, nothing parked)
  kUnavailable = 69,  // EX_UNAVAILABLE: PostgreSQL or NATS cannot be reached
  kSoftware = 70,     // EX_SOFTWARE: an unexpected internal error
  kTempFail = 75,     // EX_TEMPFAIL: try again later (busy: pool exhausted, a rebuild running)
  kConfig = 78,       // EX_CONFIG: a bad setting, or the database disagrees (edited migration)
};

// The exit code for an exception that escaped a subcommand (call inside a catch block or with
// std::current_exception()).
int exit_code_of(const std::exception_ptr& error);

// The table printed by --help: "  0   ok ...".
std::string exit_codes_help();

}  // namespace orders::cli
