// The read-side's settings (env vars with defaults; --help prints them).
#pragma once
#include <string>
#include <vector>

#include "common/config/settings.hpp"

namespace orders::read_side {

std::vector<config::SettingSpec> setting_specs();
// REPLICA_ID, or <hostname>-<pid> when empty.
std::string replica_id(const config::Settings& s);

}  // namespace orders::read_side
