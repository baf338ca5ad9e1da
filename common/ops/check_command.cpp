#include "common/ops/check_command.hpp"

#include <utility>

namespace orders::ops {

cli::Command check_command(std::vector<cli::OptionSpec> extra_options,
                           const ExtraChecks& extra_checks) {
  cli::CommandSpec spec;
  spec.name = "check";
  spec.summary = "check the deployment: Postgres, migrations, stream, relay leader, backlog";
  spec.description =
      "  Runs every check and lists each with what it found; exits 1 when any failed:\n"
      "    postgres    DATABASE_URL reachable\n"
      "    migrations  every migration of this binary applied, none edited, functions current\n"
      "    relay       a relay leader holds its lease (an advisory lock in pg_locks)\n"
      "    backlog     events not yet published (outbox + sequenced) at most --max-backlog\n"
      "    stream      NATS_STREAM on NATS_URL with the relay's subjects and dedupe window";
  spec.options = {{"--json", "", "one JSON document instead of lines"},
                  {"--max-backlog", "N", "most unpublished events that still pass (10000)"}};
  for (auto& o : extra_options) spec.options.push_back(std::move(o));
  auto run = [extra_checks](const cli::Invocation& in) {
    CheckTarget target;
    target.database_url = in.settings.str("DATABASE_URL");
    target.nats_url = in.settings.str("NATS_URL");
    target.stream = in.settings.str("NATS_STREAM");
    target.max_backlog = in.args.integer("--max-backlog", 10000, 0, std::int64_t{1} << 40);
    const auto extra = extra_checks ? extra_checks(in.args) : std::vector<ExtraCheck>{};
    return report_checks(run_checks(target, extra), in.args.flag("--json"), in.out);
  };
  return cli::Command{std::move(spec), std::move(run)};
}

}  // namespace orders::ops
