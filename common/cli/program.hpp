// A binary's subcommands and the one way both binaries run them:
//   PROGRAM                  the default (first) command
//   PROGRAM --help | -h      usage, commands, settings with defaults, exit codes
//   PROGRAM --version        "write-side 0.1.0 (revision ...)"
//   PROGRAM CMD --help       the command's usage; reads no setting and touches nothing
//   PROGRAM CMD ARGS...      parse (UsageError: 64), read the settings (78), run
// An exception escaping a command is printed on err and mapped by exit_code_of().
#pragma once
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "common/cli/args.hpp"
#include "common/config/settings.hpp"

namespace orders::cli {

struct Invocation {
  const Args& args;
  const config::Settings& settings;
  std::ostream& out;
  std::ostream& err;
};

struct Command {
  CommandSpec spec;
  std::function<int(const Invocation&)> run;
};

struct Program {
  std::string name;         // "write-side"
  std::string description;  // one line
  std::vector<config::SettingSpec> settings;
  std::vector<Command> commands;  // the first one runs when no command is given
};

// "write-side 0.1.0 (revision 8eb3da4c1f2e)"
std::string version_line(const std::string& program);
std::string program_help(const Program& program);

// args: argv without the program name. Returns the exit code.
int run_program(const Program& program, const std::vector<std::string>& args, std::ostream& out,
                std::ostream& err);

}  // namespace orders::cli
