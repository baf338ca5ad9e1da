// Every write-side setting (env var, default, help); the same table prints --help. The readers
// below turn the settings into the options of each part (ranges checked: ConfigError).
#pragma once
#include <vector>

#include "common/config/settings.hpp"
#include "common/http/server.hpp"
#include "write-side/commands/command_pipeline.hpp"

namespace orders::write_side {

std::vector<config::SettingSpec> setting_specs();

PipelineOptions pipeline_options(const config::Settings& settings);
http::ServerOptions server_options(const config::Settings& settings);

}  // namespace orders::write_side
