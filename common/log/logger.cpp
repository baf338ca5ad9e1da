#include "common/log/logger.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "common/log/line_sink.hpp"

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
    : service_json_(dump(std::move(service))),
      min_(min_level),
      sink_(std::make_unique<LineSink>(STDERR_FILENO)) {}

Logger::~Logger() = default;
Logger::Logger(Logger&&) noexcept = default;

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

// Fixed keys first (ts, level, service, msg), then the caller's fields in their own order.
std::string Logger::head(Level level, std::string_view msg) const {
  std::string line;
  line.reserve(192);
  line += "{\"ts\":\"";
  line += now_rfc3339();
  line += "\",\"level\":\"";
  line += level_name(level);
  line += "\",\"service\":";
  line += service_json_;
  line += ",\"msg\":";
  append_json_string(line, msg);
  return line;
}

void Logger::write(Level level, std::string_view msg, nlohmann::json fields) {
  if (!enabled(level)) return;
  std::string line = head(level, msg);
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
  emit(level, line);
}

void Logger::write_rendered(Level level, std::string_view msg, std::string_view fields) {
  if (!enabled(level)) return;
  std::string line = head(level, msg);
  if (!fields.empty()) {
    line += ',';
    line += fields;
  }
  line += "}\n";
  emit(level, line);
}

void Logger::emit(Level level, const std::string& line) {
  if (level >= Level::Warn) {
    sink_->append_now(line);
  } else {
    sink_->append(line);
  }
}

void Logger::flush() {
  sink_->flush();
}

void append_json_string(std::string& out, std::string_view s) {
  // Plain printable ASCII (ids, methods, routes: nearly every value) is copied as it is.
  bool plain = true;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out += '"';
    out += s;
    out += '"';
  } else {
    out += dump(std::string(s));
  }
}

}  // namespace orders::log
