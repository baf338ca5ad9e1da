#include "common/cli/program.hpp"

#include <algorithm>
#include <sstream>

#include "common/cli/exit_code.hpp"
#include "common/version/build_info.hpp"

namespace orders::cli {
namespace {

const Command* find_command(const Program& program, const std::string& name) {
  auto it = std::find_if(program.commands.begin(), program.commands.end(),
                         [&](const Command& c) { return c.spec.name == name; });
  return it == program.commands.end() ? nullptr : &*it;
}

int run_command(const Program& program, const Command& command,
                const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const std::string who = program.name + " " + command.spec.name;
  try {
    const Args parsed = parse_args(command.spec, args);
    const auto settings = config::Settings::from_env(program.settings);
    out.flush();
    return command.run(Invocation{parsed, settings, out, err});
  } catch (const UsageError& e) {
    err << program.name << ": " << e.what() << "\n\n" << usage(program.name, command.spec);
    return kUsage;
  } catch (const config::ConfigError& e) {
    err << who << ": bad setting: " << e.what() << "\n";
    return kConfig;
  } catch (const std::exception& e) {
    out.flush();
    err << who << ": " << e.what() << "\n";
    return exit_code_of(std::current_exception());
  } catch (...) {
    err << who << ": unknown error\n";
    return kSoftware;
  }
}

}  // namespace

std::string version_line(const std::string& program) {
  return program + " " + version::release() + " (revision " + version::revision() + ")";
}

std::string program_help(const Program& program) {
  std::ostringstream out;
  out << program.name << ": " << program.description << "\n\nUsage:\n";
  std::size_t width = 0;
  for (const auto& c : program.commands) width = std::max(width, c.spec.name.size());
  for (std::size_t i = 0; i < program.commands.size(); ++i) {
    const auto& c = program.commands[i];
    out << "  " << program.name << " " << c.spec.name
        << std::string(width - c.spec.name.size() + 2, ' ') << c.spec.summary
        << (i == 0 ? " (the default)" : "") << "\n";
  }
  out << "  " << program.name << " COMMAND --help   the command's arguments\n"
      << "  " << program.name << " --version\n\n"
      << "Settings (environment variables):\n"
      << config::Settings(program.settings).help_text() << "\nExit codes:\n"
      << exit_codes_help();
  return out.str();
}

int run_program(const Program& program, const std::vector<std::string>& args, std::ostream& out,
                std::ostream& err) {
  const std::string first = args.empty() ? program.commands.front().spec.name : args.front();
  if (first == "--help" || first == "-h" || first == "help") {
    out << program_help(program);
    return kOk;
  }
  if (first == "--version" || first == "version") {
    out << version_line(program.name) << "\n";
    return kOk;
  }
  const Command* command = find_command(program, first);
  if (command == nullptr) {
    err << program.name << ": unknown command '" << first << "' (try " << program.name
        << " --help)\n";
    return kUsage;
  }
  const std::vector<std::string> rest(args.empty() ? args.end() : args.begin() + 1, args.end());
  if (asks_for_help(rest)) {
    out << usage(program.name, command->spec);
    return kOk;
  }
  if (asks_for_version(rest)) {
    out << version_line(program.name) << "\n";
    return kOk;
  }
  return run_command(program, *command, rest, out, err);
}

}  // namespace orders::cli
