// Settings from environment variables with documented defaults; the same table prints --help.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace orders::config {

struct SettingSpec {
  std::string env;            // "WRITE_PORT"
  std::string default_value;  // "8080"
  std::string help;           // one line
};

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads each spec's env var (or its default). Typed getters throw ConfigError with the variable's
// name on a malformed value, so a bad setting fails start-up with a clear message.
class Settings {
 public:
  explicit Settings(std::vector<SettingSpec> specs);
  static Settings from_env(std::vector<SettingSpec> specs);

  std::string str(const std::string& env) const;
  std::int64_t integer(const std::string& env, std::int64_t min, std::int64_t max) const;
  bool boolean(const std::string& env) const;  // 1/0 true/false yes/no on/off
  // The value, which must be one of `allowed` (e.g. LOG_LEVEL: debug, info, warn, error).
  std::string one_of(const std::string& env, const std::vector<std::string>& allowed) const;
  std::chrono::milliseconds millis(const std::string& env) const;  // integer milliseconds

  void set(const std::string& env, std::string value);  // tests / flags override
  const std::vector<SettingSpec>& specs() const { return specs_; }
  // "  WRITE_PORT  (default 8080)  Port the write-side listens on" for every spec.
  std::string help_text() const;

 private:
  std::vector<SettingSpec> specs_;
  std::map<std::string, std::string> values_;
};

}  // namespace orders::config
