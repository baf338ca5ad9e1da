// Structured JSON log lines on stderr: {"ts","level","msg","service",...fields}. Thread-safe.
#pragma once
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace orders::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };
Level parse_level(std::string_view s);  // "debug"/"info"/"warn"/"error"; unknown -> Info

class Logger {
 public:
  Logger(std::string service, Level min_level);
  void debug(std::string_view msg, nlohmann::json fields = nlohmann::json::object());
  void info(std::string_view msg, nlohmann::json fields = nlohmann::json::object());
  void warn(std::string_view msg, nlohmann::json fields = nlohmann::json::object());
  void error(std::string_view msg, nlohmann::json fields = nlohmann::json::object());
  void write(Level level, std::string_view msg, nlohmann::json fields);
  bool enabled(Level level) const { return level >= min_; }

 private:
  std::string service_;
  Level min_;
  std::mutex mu_;
};

}  // namespace orders::log
