#include "common/cli/args.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

namespace orders::cli {
namespace {

const OptionSpec* find_option(const CommandSpec& spec, const std::string& name) {
  auto it = std::find_if(spec.options.begin(), spec.options.end(),
                         [&](const OptionSpec& o) { return o.name == name; });
  return it == spec.options.end() ? nullptr : &*it;
}

bool contains_before_dashdash(const std::vector<std::string>& args,
                              std::initializer_list<const char*> names) {
  for (const auto& a : args) {
    if (a == "--") return false;
    for (const char* n : names)
      if (a == n) return true;
  }
  return false;
}

void check_positionals(const CommandSpec& spec, const std::vector<std::string>& got) {
  const std::size_t required = spec.positionals.size() - (spec.variadic ? 1 : 0);
  if (got.size() < required) {
    throw UsageError(spec.name + ": missing " + spec.positionals[got.size()]);
  }
  if (!spec.variadic && got.size() > spec.positionals.size()) {
    throw UsageError(spec.name + ": unexpected argument '" + got[spec.positionals.size()] + "'");
  }
}

}  // namespace

Args parse_args(const CommandSpec& spec, const std::vector<std::string>& args) {
  Args out;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      out.positionals_.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    const auto eq = a.find('=');
    const std::string name = a.substr(0, eq);
    const OptionSpec* opt = find_option(spec, name);
    if (opt == nullptr) throw UsageError(spec.name + ": unknown option " + name);
    if (out.values_.count(name) != 0) throw UsageError(spec.name + ": " + name + " given twice");
    if (opt->value_name.empty()) {
      if (eq != std::string::npos) throw UsageError(spec.name + ": " + name + " takes no value");
      out.values_[name] = "";
    } else if (eq != std::string::npos) {
      out.values_[name] = a.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      out.values_[name] = args[++i];
    } else {
      throw UsageError(spec.name + ": " + name + " needs a value (" + opt->value_name + ")");
    }
  }
  check_positionals(spec, out.positionals_);
  return out;
}

bool Args::flag(const std::string& name) const {
  return values_.count(name) != 0;
}

std::optional<std::string> Args::value(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::int64_t Args::integer(const std::string& name, std::int64_t fallback, std::int64_t min,
                           std::int64_t max) const {
  const auto raw = value(name);
  if (!raw) return fallback;
  std::int64_t v = 0;
  const char* end = raw->data() + raw->size();
  auto [ptr, ec] = std::from_chars(raw->data(), end, v);
  if (raw->empty() || ec != std::errc() || ptr != end || v < min || v > max) {
    throw UsageError(name + " must be an integer from " + std::to_string(min) + " to " +
                     std::to_string(max) + " (got '" + *raw + "')");
  }
  return v;
}

double Args::number(const std::string& name, double fallback, double min, double max) const {
  const auto raw = value(name);
  if (!raw) return fallback;
  double v = 0;
  const char* end = raw->data() + raw->size();
  auto [ptr, ec] = std::from_chars(raw->data(), end, v);
  if (raw->empty() || ec != std::errc() || ptr != end || !std::isfinite(v) || v < min || v > max) {
    std::ostringstream msg;
    msg << name << " must be a number from " << min << " to " << max << " (got '" << *raw << "')";
    throw UsageError(msg.str());
  }
  return v;
}

bool asks_for_help(const std::vector<std::string>& args) {
  return contains_before_dashdash(args, {"--help", "-h"});
}

bool asks_for_version(const std::vector<std::string>& args) {
  return contains_before_dashdash(args, {"--version"});
}

std::string usage(const std::string& program, const CommandSpec& spec) {
  std::ostringstream out;
  out << "Usage: " << program << " " << spec.name;
  for (std::size_t i = 0; i < spec.positionals.size(); ++i) {
    const bool optional = spec.variadic && i + 1 == spec.positionals.size();
    out << (optional ? " [" : " ") << spec.positionals[i] << (optional ? "]" : "");
  }
  if (!spec.options.empty()) out << " [OPTIONS]";
  out << "\n  " << spec.summary << "\n";
  if (!spec.description.empty()) out << "\n" << spec.description << "\n";
  std::size_t width = 0;
  for (const auto& o : spec.options) {
    width = std::max(width, o.name.size() + (o.value_name.empty() ? 0 : o.value_name.size() + 1));
  }
  if (!spec.options.empty()) out << "\nOptions:\n";
  for (const auto& o : spec.options) {
    const std::string left = o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    out << "  " << left << std::string(width - left.size() + 2, ' ') << o.help << "\n";
  }
  return out.str();
}

}  // namespace orders::cli
