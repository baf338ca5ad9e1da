// Structured JSON log lines on stderr: {"ts","level","msg","service",...fields}. Thread-safe.
// Debug and info lines are buffered and written by a background thread (LineSink) within a few
// milliseconds; warn and error lines are written before the call returns, so they survive an
// exit right after them.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace orders::log {

class LineSink;

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };
Level parse_level(std::string_view s);  // "debug"/"info"/"warn"/"error"; unknown -> Info

class Logger {
 public:
  Logger(std::string service, Level min_level);
  ~Logger();  // writes what is buffered
  Logger(Logger&&) noexcept;
  void debug(std::string_view msg, nlohmann::json fields = nlohmann::json::object());
  void info(std::string_view msg, nlohmann::json fields = nlohmann::json::object());
  void warn(std::string_view msg, nlohmann::json fields = nlohmann::json::object());
  void error(std::string_view msg, nlohmann::json fields = nlohmann::json::object());
  void write(Level level, std::string_view msg, nlohmann::json fields);
  // The hot path (one line per request): `fields` is already rendered JSON members
  // (`"k":v,"k2":v2`, see append_json_string), so no JSON object is built.
  void write_rendered(Level level, std::string_view msg, std::string_view fields);
  bool enabled(Level level) const { return level >= min_; }
  void flush();  // what is buffered is on stderr when this returns

 private:
  std::string head(Level level, std::string_view msg) const;
  void emit(Level level, const std::string& line);

  std::string service_json_;
  Level min_;
  std::unique_ptr<LineSink> sink_;
};

// Appends `s` as a JSON string (quoted, escaped; invalid UTF-8 replaced).
void append_json_string(std::string& out, std::string_view s);

}  // namespace orders::log
