// Every write-side setting (env var, default, help); the same table prints --help.
#pragma once
#include <vector>

#include "common/config/settings.hpp"

namespace orders::write_side {

std::vector<config::SettingSpec> setting_specs();

}  // namespace orders::write_side
