// `check` of both binaries: is the deployment around this process healthy? Postgres reachable,
// migrations applied and unedited, the JetStream stream present with the expected subjects and
// dedupe window, a relay leader holding its lease, the relay backlog under a limit, plus checks
// the binary adds (read-side: projection lag). Each check says what it found.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace orders::ops {

struct CheckResult {
  std::string name;  // "postgres", "migrations", "stream", "relay", "backlog", ...
  bool ok = false;
  std::string detail;
};

struct CheckTarget {
  std::string database_url;
  std::string nats_url;
  std::string stream = "ORDERS";
  std::int64_t max_backlog = 10000;  // outbox rows + sequenced but unpublished events
  std::chrono::milliseconds timeout{std::chrono::seconds(3)};
};

// A binary's own check, run on the check's Postgres connection.
struct ExtraCheck {
  std::string name;
  std::function<CheckResult(pqxx::connection&)> run;
};

std::vector<CheckResult> run_checks(const CheckTarget& target,
                                    const std::vector<ExtraCheck>& extra = {});

// One line per check ("ok    stream  ...", "FAIL  relay  ...") and a summary, or one JSON
// document {"ok","checks":[{"name","ok","detail"}]}. Returns 0 when all passed, else 1.
int report_checks(const std::vector<CheckResult>& results, bool json, std::ostream& out);

}  // namespace orders::ops
