#include "common/log/logger.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace orders::log {
namespace {

const char* level_name(Level level) {
  switch (level) {
    case Level::Debug:
      return "debug";
    case Level::Info:
      return "info";
    case Level::Warn:
      return "warn";
    case Level::Error:
      return "error";
  }
  return "info";
}

// RFC 3339 UTC with microseconds: 2026-11-26T23:22:45.123456Z
std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(micros / 1'000'000);
  long frac = static_cast<long>(micros % 1'000'000);
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

std::string dump(const nlohmann::json& value) {
  // Invalid UTF-8 in a field must never throw out of a log call.
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Level parse_level(std::string_view s) {
  if (s == "debug" || s == "DEBUG") return Level::Debug;
  if (s == "info" || s == "INFO") return Level::Info;
  if (s == "warn" || s == "WARN" || s == "warning" || s == "WARNING") return Level::Warn;
  if (s == "error" || s == "ERROR") return Level::Error;
  return Level::Info;
}

Logger::Logger(std::string service, Level min_level)
    : service_(std::move(service)), min_(min_level) {}

void Logger::debug(std::string_view msg, nlohmann::json fields) {
  write(Level::Debug, msg, std::move(fields));
}
void Logger::info(std::string_view msg, nlohmann::json fields) {
  write(Level::Info, msg, std::move(fields));
}
void Logger::warn(std::string_view msg, nlohmann::json fields) {
  write(Level::Warn, msg, std::move(fields));
}
void Logger::error(std::string_view msg, nlohmann::json fields) {
  write(Level::Error, msg, std::move(fields));
}

void Logger::write(Level level, std::string_view msg, nlohmann::json fields) {
  if (!enabled(level)) return;
  // Fixed keys first (ts, level, service, msg), then the caller's fields in their own order.
  std::string line;
  line.reserve(160);
  line += "{\"ts\":\"";
  line += now_rfc3339();
  line += "\",\"level\":\"";
  line += level_name(level);
  line += "\",\"service\":";
  line += dump(service_);
  line += ",\"msg\":";
  line += dump(std::string(msg));
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      const std::string& key = it.key();
      if (key == "ts" || key == "level" || key == "service" || key == "msg") continue;
      line += ',';
      line += dump(key);
      line += ':';
      line += dump(it.value());
    }
  } else if (!fields.is_null()) {
    line += ",\"fields\":";
    line += dump(fields);
  }
  line += "}\n";
  std::lock_guard lock(mu_);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace orders::log
