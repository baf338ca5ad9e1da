// The write-side service: migrate, then the HTTP API, the group-commit pipeline, the outbox relay
// and the idempotency janitor until SIGTERM (graceful stop).
#pragma once
#include "common/config/settings.hpp"
#include "common/log/logger.hpp"

namespace orders::write_side {

int migrate(const config::Settings& settings, log::Logger& logger);
int serve(const config::Settings& settings, log::Logger& logger);

}  // namespace orders::write_side
