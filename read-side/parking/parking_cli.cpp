#include "read-side/parking/parking_cli.hpp"

#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/cli/exit_code.hpp"
#include "common/domain/ids.hpp"
#include "read-side/parking/unpark.hpp"
#include "read-side/projector/parked_store.hpp"

namespace orders::read_side::parking {

namespace {

nlohmann::json parked_json(const std::vector<ParkedEvent>& events) {
  std::map<std::string, nlohmann::json> by_order;
  for (const auto& e : events) {
    auto& o = by_order[e.order_id];
    if (o.is_null()) o = {{"order_id", e.order_id}, {"events", nlohmann::json::array()}};
    o["events"].push_back({{"global_position", e.global_position},
                           {"event_id", e.event_id},
                           {"type", e.type},
                           {"version", e.version},
                           {"attempts", e.attempts},
                           {"held", e.held},
                           {"parked_at", e.parked_at},
                           {"error", e.error}});
  }
  auto orders = nlohmann::json::array();
  for (auto& [id, o] : by_order) orders.push_back(std::move(o));
  return {{"parked_events", events.size()}, {"orders", std::move(orders)}};
}

void print_table(const std::vector<ParkedEvent>& events, std::ostream& out) {
  std::map<std::string, int> orders;
  for (const auto& e : events) ++orders[e.order_id];
  out << events.size() << " parked events in " << orders.size() << " orders\n";
  if (events.empty()) return;
  char line[512];
  std::snprintf(line, sizeof line, "%-24s %10s %7s %-18s %8s %-20s %s\n", "ORDER_ID", "POSITION",
                "VERSION", "TYPE", "ATTEMPTS", "PARKED_AT", "ERROR");
  out << line;
  for (const auto& e : events) {
    std::snprintf(line, sizeof line, "%-24s %10lld %7lld %-18s %8d %-20s ", e.order_id.c_str(),
                  static_cast<long long>(e.global_position), static_cast<long long>(e.version),
                  e.type.c_str(), e.attempts, e.parked_at.c_str());
    out << line << e.error << "\n";
  }
}

int run_parked(const cli::Invocation& in) {
  pqxx::connection conn(in.settings.str("DATABASE_URL"));
  prepare_parked_statements(conn);
  pqxx::read_transaction tx(conn);
  const auto events = list_parked(tx);
  if (in.args.flag("--json")) {
    in.out << parked_json(events).dump(2) << "\n";
  } else {
    print_table(events, in.out);
  }
  return cli::kOk;
}

int run_unpark(const cli::Invocation& in) {
  const std::string& id = in.args.positional(0);
  if (!domain::valid_id(id)) {
    throw cli::UsageError("unpark: '" + id +
                          "' is not an order id (1-128 letters, digits, - _ . :)");
  }
  const auto r = unpark_order(in.settings.str("DATABASE_URL"), id);
  switch (r.kind) {
    case UnparkOutcome::Kind::Applied:
      in.out << "unparked order " << id << ": " << r.parked << " parked events, " << r.applied
             << " applied, now at version " << r.version << "\n";
      return cli::kOk;
    case UnparkOutcome::Kind::NotParked:
      in.err << "unpark: order " << id << " has no parked events\n";
      return cli::kNoInput;
    case UnparkOutcome::Kind::StillFailing:
      in.err << "unpark: order " << id << " still fails, its " << r.parked
             << " events stay parked: " << r.error << "\n";
      return cli::kCheckFailed;
  }
  return cli::kSoftware;
}

}  // namespace

cli::Command parked_command() {
  cli::CommandSpec spec;
  spec.name = "parked";
  spec.summary = "list the parked (poison) events per order";
  spec.options = {{"--json", "", "one JSON document: {\"parked_events\", \"orders\": [...]}"}};
  spec.description =
      "  Lists the events parked per order (poison events, and the later events of their\n"
      "  order held behind them).";
  return {std::move(spec), run_parked};
}

cli::Command unpark_command() {
  cli::CommandSpec spec;
  spec.name = "unpark";
  spec.summary = "apply an order's parked events again (after a fix); it is live again";
  spec.positionals = {"ORDER_ID"};
  spec.description =
      "  Applies the order's parked events again, in order, read from the event store (after a\n"
      "  fix: a repaired event, an upcaster), exactly once; the order is then live again.\n"
      "  Exit 1 when they still fail (they stay parked), 66 when the order has none.";
  return {std::move(spec), run_unpark};
}

}  // namespace orders::read_side::parking
