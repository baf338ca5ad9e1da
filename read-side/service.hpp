// The read-side's subcommands, wired from settings: serve (projector + query API) and migrate.
#pragma once
#include "common/config/settings.hpp"

namespace orders::log {
class Logger;
}

namespace orders::read_side {

int serve(const config::Settings& settings, log::Logger& logger);
int migrate(const config::Settings& settings, log::Logger& logger);

}  // namespace orders::read_side
