#include "common/console/console_settings.hpp"

#include "common/http/cors.hpp"

namespace orders::console {

std::vector<std::string> origins_setting(const config::Settings& settings, const std::string& env) {
  auto origins = http::parse_origins(settings.str(env));
  if (!origins) {
    throw config::ConfigError(env +
                              " must be a comma-separated list of origins such as "
                              "http://127.0.0.1:8080 (scheme://host:port, no path)");
  }
  return *origins;
}

std::string origin_setting(const config::Settings& settings, const std::string& env) {
  auto origins = http::parse_origins(settings.str(env));
  if (!origins || origins->size() > 1) {
    throw config::ConfigError(env +
                              " must be one origin such as http://127.0.0.1:8081 "
                              "(scheme://host:port, no path) or empty");
  }
  return origins->empty() ? std::string() : origins->front();
}

ConsoleOptions console_options(const config::Settings& settings, const std::string& service) {
  ConsoleOptions o;
  o.service = service;
  if (service == "write-side") {
    o.read_url = origin_setting(settings, "CONSOLE_READ_URL");
  } else {
    o.write_url = origin_setting(settings, "CONSOLE_WRITE_URL");
  }
  return o;
}

}  // namespace orders::console
