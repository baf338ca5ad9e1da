// The console's settings, shared by both services: where the page finds the other service
// (CONSOLE_READ_URL / CONSOLE_WRITE_URL) and which origins may read this one (CORS_ORIGINS).
#pragma once
#include <string>
#include <vector>

#include "common/config/settings.hpp"
#include "common/console/console_routes.hpp"

namespace orders::console {

// One origin (scheme://host[:port]) or empty; anything else throws config::ConfigError.
std::string origin_setting(const config::Settings& settings, const std::string& env);
// A comma-separated list of origins; throws config::ConfigError on an entry that is not one.
std::vector<std::string> origins_setting(const config::Settings& settings, const std::string& env);

// service "write-side": the page's read-side is CONSOLE_READ_URL; "read-side": the page's
// write-side is CONSOLE_WRITE_URL.
ConsoleOptions console_options(const config::Settings& settings, const std::string& service);

}  // namespace orders::console
