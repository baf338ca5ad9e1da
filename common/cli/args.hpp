// A subcommand's arguments: declared options (flags, or with a value: "--limit N" or
// "--limit=N"), then positionals. Anything undeclared is a UsageError (exit 64); "--" ends the
// options. Typed getters throw UsageError naming the option.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace orders::cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OptionSpec {
  std::string name;        // "--from-version"
  std::string value_name;  // "N"; empty: a flag without a value
  std::string help;        // one line
};

struct CommandSpec {
  std::string name;                      // "events"
  std::string summary;                   // one line in the program's --help
  std::vector<std::string> positionals;  // "ORDER_ID": each required, in order
  bool variadic = false;                 // the last positional takes 0..n values ("NAME...")
  std::vector<OptionSpec> options;
  std::string description;  // paragraphs for the subcommand's --help
};

class Args {
 public:
  bool flag(const std::string& name) const;
  std::optional<std::string> value(const std::string& name) const;
  // The option's value as an integer in [min, max], or fallback when absent.
  std::int64_t integer(const std::string& name, std::int64_t fallback, std::int64_t min,
                       std::int64_t max) const;
  double number(const std::string& name, double fallback, double min, double max) const;
  const std::vector<std::string>& positionals() const { return positionals_; }
  const std::string& positional(std::size_t i) const { return positionals_.at(i); }

 private:
  friend Args parse_args(const CommandSpec& spec, const std::vector<std::string>& args);
  std::map<std::string, std::string> values_;  // flags map to ""
  std::vector<std::string> positionals_;
};

Args parse_args(const CommandSpec& spec, const std::vector<std::string>& args);

// "-h"/"--help" anywhere before "--".
bool asks_for_help(const std::vector<std::string>& args);
bool asks_for_version(const std::vector<std::string>& args);

// "Usage: PROGRAM NAME POSITIONALS [OPTIONS]" with the description and one line per option.
std::string usage(const std::string& program, const CommandSpec& spec);

}  // namespace orders::cli
