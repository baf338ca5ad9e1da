#include "common/config/settings.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <sstream>

namespace orders::config {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string default_label(const SettingSpec& spec) {
  return spec.default_value.empty() ? std::string("(default empty)")
                                    : "(default " + spec.default_value + ")";
}

}  // namespace

Settings::Settings(std::vector<SettingSpec> specs) : specs_(std::move(specs)) {
  for (const auto& spec : specs_) {
    if (values_.count(spec.env) != 0)
      throw ConfigError("setting " + spec.env + " is declared twice");
    values_[spec.env] = spec.default_value;
  }
}

Settings Settings::from_env(std::vector<SettingSpec> specs) {
  Settings settings(std::move(specs));
  for (const auto& spec : settings.specs_) {
    if (const char* value = std::getenv(spec.env.c_str()); value != nullptr) {
      settings.values_[spec.env] = value;
    }
  }
  return settings;
}

std::string Settings::str(const std::string& env) const {
  auto it = values_.find(env);
  if (it == values_.end()) throw ConfigError("unknown setting " + env + " (not declared)");
  return it->second;
}

std::string Settings::one_of(const std::string& env,
                             const std::vector<std::string>& allowed) const {
  const std::string value = str(env);
  std::string list;
  for (const auto& a : allowed) {
    if (a == value) return value;
    list += (list.empty() ? "" : ", ") + a;
  }
  throw ConfigError(env + " must be one of " + list + " (got '" + value + "')");
}

std::int64_t Settings::integer(const std::string& env, std::int64_t min, std::int64_t max) const {
  const std::string raw = trim(str(env));
  std::int64_t value = 0;
  const char* begin = raw.data();
  const char* end = raw.data() + raw.size();
  if (!raw.empty() && *begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (raw.empty() || ec != std::errc() || ptr != end) {
    throw ConfigError(env + "='" + raw + "' is not an integer");
  }
  if (value < min || value > max) {
    throw ConfigError(env + "=" + std::to_string(value) + " is out of range [" +
                      std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return value;
}

bool Settings::boolean(const std::string& env) const {
  const std::string raw = lower(trim(str(env)));
  if (raw == "1" || raw == "true" || raw == "yes" || raw == "on") return true;
  if (raw == "0" || raw == "false" || raw == "no" || raw == "off") return false;
  throw ConfigError(env + "='" + raw + "' is not a boolean (use on/off, true/false, yes/no, 1/0)");
}

std::chrono::milliseconds Settings::millis(const std::string& env) const {
  return std::chrono::milliseconds(integer(env, 0, std::int64_t{1} << 40));
}

void Settings::set(const std::string& env, std::string value) {
  auto it = values_.find(env);
  if (it == values_.end()) throw ConfigError("unknown setting " + env + " (not declared)");
  it->second = std::move(value);
}

std::string Settings::help_text() const {
  std::size_t env_width = 0;
  std::size_t default_width = 0;
  for (const auto& spec : specs_) {
    env_width = std::max(env_width, spec.env.size());
    default_width = std::max(default_width, default_label(spec).size());
  }
  std::ostringstream out;
  for (const auto& spec : specs_) {
    const std::string def = default_label(spec);
    out << "  " << spec.env << std::string(env_width - spec.env.size() + 2, ' ') << def
        << std::string(default_width - def.size() + 2, ' ') << spec.help << '\n';
  }
  return out.str();
}

}  // namespace orders::config
