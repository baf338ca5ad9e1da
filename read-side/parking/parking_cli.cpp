#include "read-side/parking/parking_cli.hpp"

#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/domain/ids.hpp"
#include "read-side/parking/unpark.hpp"
#include "read-side/projector/parked_store.hpp"

namespace orders::read_side::parking {

namespace {

constexpr int kUsageError = 2;

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

}  // namespace

std::string parked_usage() {
  return "Usage: read-side parked [--json]\n"
         "  Lists the events parked per order (poison events, and the later events of their\n"
         "  order held behind them). --json: one JSON document.\n"
         "Exit: 0 listed, 1 failure, 2 bad arguments\n";
}

std::string unpark_usage() {
  return "Usage: read-side unpark ORDER_ID\n"
         "  Applies the order's parked events again, in order, read from the event store (after a\n"
         "  fix: a repaired event, an upcaster), exactly once; the order is then live again.\n"
         "Exit: 0 applied, 1 the order has no parked events or they still fail (they stay\n"
         "  parked), 2 bad arguments\n";
}

int parked_main(const std::string& database_url, const std::vector<std::string>& args,
                std::ostream& out, std::ostream& err) {
  bool json = false;
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      out << parked_usage();
      return 0;
    }
    if (a != "--json") {
      err << "parked: unexpected argument '" << a << "'\n" << parked_usage();
      return kUsageError;
    }
    json = true;
  }
  try {
    pqxx::connection conn(database_url);
    prepare_parked_statements(conn);
    pqxx::read_transaction tx(conn);
    const auto events = list_parked(tx);
    if (json) {
      out << parked_json(events).dump(2) << "\n";
    } else {
      print_table(events, out);
    }
    return 0;
  } catch (const std::exception& e) {
    err << "parked: " << e.what() << "\n";
    return 1;
  }
}

int unpark_main(const std::string& database_url, const std::vector<std::string>& args,
                std::ostream& out, std::ostream& err) {
  std::vector<std::string> ids;
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      out << unpark_usage();
      return 0;
    }
    if (!a.empty() && a[0] == '-') {
      err << "unpark: unknown option " << a << "\n" << unpark_usage();
      return kUsageError;
    }
    ids.push_back(a);
  }
  if (ids.size() != 1) {
    err << "unpark: name exactly one order id\n" << unpark_usage();
    return kUsageError;
  }
  if (!domain::valid_id(ids[0])) {
    err << "unpark: '" << ids[0] << "' is not an order id (1-128 letters, digits, - _ . :)\n"
        << unpark_usage();
    return kUsageError;
  }
  try {
    const auto r = unpark_order(database_url, ids[0]);
    switch (r.kind) {
      case UnparkOutcome::Kind::Applied:
        out << "unparked order " << ids[0] << ": " << r.parked << " parked events, " << r.applied
            << " applied, now at version " << r.version << "\n";
        return 0;
      case UnparkOutcome::Kind::NotParked:
        err << "unpark: order " << ids[0] << " has no parked events\n";
        return 1;
      case UnparkOutcome::Kind::StillFailing:
        err << "unpark: order " << ids[0] << " still fails, its " << r.parked
            << " events stay parked: " << r.error << "\n";
        return 1;
    }
  } catch (const std::exception& e) {
    err << "unpark: " << e.what() << "\n";
  }
  return 1;
}

}  // namespace orders::read_side::parking
