#include "common/ops/stack_check.hpp"

#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/codec/bus_envelope.hpp"
#include "common/nats/connection.hpp"
#include "common/nats/stream_admin.hpp"
#include "common/pg/advisory_locks.hpp"
#include "common/pg/migrations.hpp"
#include "common/pg/pool.hpp"

namespace orders::ops {
namespace {

template <typename Ints>
std::string join(const Ints& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += ", ";
    if constexpr (std::is_same_v<typename Ints::value_type, std::string>) {
      out += i;
    } else {
      out += std::to_string(i);
    }
  }
  return out;
}

CheckResult check_migrations(pqxx::connection& conn) {
  const auto st = pg::migration_status(conn);
  CheckResult r{"migrations", st.current(), ""};
  if (!st.edited.empty()) r.detail += "edited after they were applied: " + join(st.edited) + "; ";
  if (!st.missing.empty()) r.detail += "not applied: " + join(st.missing) + "; ";
  if (!st.stale_repeatables.empty())
    r.detail += "functions not current: " + join(st.stale_repeatables) + "; ";
  if (r.ok) {
    r.detail = std::to_string(st.applied) + " applied, unedited, functions current";
    if (!st.unknown.empty())
      r.detail += " (also applied, unknown to this binary: " + join(st.unknown) + ")";
  } else {
    r.detail.resize(r.detail.size() - 2);
  }
  return r;
}

CheckResult check_relay_leader(pqxx::connection& conn) {
  pqxx::read_transaction tx(conn);
  const auto rows = tx.exec_params(
      "SELECT l.pid, coalesce(a.client_addr::text, 'local'), "
      "       coalesce(extract(epoch FROM now() - a.backend_start)::bigint, 0) "
      "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
      "  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
      "  AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
      pg::kRelayLockKey);
  if (rows.empty())
    return {"relay", false, "no relay leader holds the lease (is every relay off?)"};
  return {"relay", true,
          "leader alive: backend pid " + rows[0][0].as<std::string>() + " from " +
              rows[0][1].as<std::string>() + ", connected " + rows[0][2].as<std::string>() +
              " s ago"};
}

CheckResult check_backlog(pqxx::connection& conn, std::int64_t limit) {
  pqxx::read_transaction tx(conn);
  const auto row = tx.exec1(
      "SELECT (SELECT count(*) FROM outbox), last_sequenced - last_published "
      "FROM relay_state WHERE id = 1");
  const auto unsequenced = row[0].as<std::int64_t>();
  const auto unpublished = row[1].as<std::int64_t>();
  const auto backlog = unsequenced + unpublished;
  return {"backlog", backlog <= limit,
          std::to_string(backlog) + " events not yet published (" + std::to_string(unsequenced) +
              " in the outbox, " + std::to_string(unpublished) + " sequenced; limit " +
              std::to_string(limit) + ")"};
}

CheckResult check_stream(const CheckTarget& t) {
  try {
    nats::ConnectOptions o;
    o.url = t.nats_url;
    o.name = "orders-check";
    o.connect_timeout = t.timeout;
    o.max_reconnect = 0;
    auto conn = nats::Connection::connect(o);
    nats::StreamAdmin admin(conn, t.timeout);
    const auto info = admin.stream_info(t.stream);
    if (!info) return {"stream", false, "stream " + t.stream + " does not exist on " + t.nats_url};
    const nats::StreamSpec want;  // what the relay creates
    const std::vector<std::string> subjects = {codec::stream_subject_filter(t.stream)};
    std::string bad;
    if (info->subjects != subjects)
      bad += "subjects [" + join(info->subjects) + "], expected [" + join(subjects) + "]; ";
    if (info->duplicate_window != want.duplicate_window) {
      bad += "dedupe window " + std::to_string(info->duplicate_window.count() / 1000) +
             " s, expected " + std::to_string(want.duplicate_window.count() / 1000) + " s; ";
    }
    if (!bad.empty()) return {"stream", false, t.stream + ": " + bad.substr(0, bad.size() - 2)};
    return {"stream", true,
            t.stream + ": subjects " + subjects[0] + ", dedupe window " +
                std::to_string(want.duplicate_window.count() / 1000) + " s, " +
                std::to_string(info->msgs) + " messages, last sequence " +
                std::to_string(info->last_seq)};
  } catch (const std::exception& e) {
    return {"stream", false, std::string("NATS ") + t.nats_url + ": " + e.what()};
  }
}

// Error texts of libpq span lines: one line per check.
std::string one_line(const std::string& text) {
  std::string out;
  for (char ch : text) {
    const bool space = ch == '\n' || ch == '\t' || ch == '\r' || ch == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : ch;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Runs `fn`; a failure is that check's result instead of aborting the others.
CheckResult guarded(const std::string& name, const std::function<CheckResult()>& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return {name, false, e.what()};
  }
}

}  // namespace

std::vector<CheckResult> run_checks(const CheckTarget& target,
                                    const std::vector<ExtraCheck>& extra) {
  std::vector<CheckResult> out;
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = std::make_unique<pqxx::connection>(
        pg::with_connect_timeout(target.database_url, target.timeout));
    pqxx::nontransaction tx(*conn);
    out.push_back(
        {"postgres", true,
         "reachable, " + tx.exec1("SELECT version()")[0].as<std::string>().substr(0, 16)});
  } catch (const std::exception& e) {
    out.push_back({"postgres", false, std::string("unreachable: ") + e.what()});
  }
  const std::vector<std::string> pg_checks = {"migrations", "relay", "backlog"};
  if (!conn) {
    for (const auto& name : pg_checks) out.push_back({name, false, "skipped: no PostgreSQL"});
  } else {
    out.push_back(guarded("migrations", [&] { return check_migrations(*conn); }));
    out.push_back(guarded("relay", [&] { return check_relay_leader(*conn); }));
    out.push_back(guarded("backlog", [&] { return check_backlog(*conn, target.max_backlog); }));
  }
  out.push_back(check_stream(target));
  for (const auto& check : extra) {
    if (!conn) {
      out.push_back({check.name, false, "skipped: no PostgreSQL"});
      continue;
    }
    out.push_back(guarded(check.name, [&] { return check.run(*conn); }));
  }
  return out;
}

int report_checks(const std::vector<CheckResult>& results, bool json, std::ostream& out) {
  std::vector<std::string> failed;
  for (const auto& r : results)
    if (!r.ok) failed.push_back(r.name);
  if (json) {
    auto checks = nlohmann::json::array();
    for (const auto& r : results)
      checks.push_back({{"name", r.name}, {"ok", r.ok}, {"detail", one_line(r.detail)}});
    out << nlohmann::json{{"ok", failed.empty()}, {"failed", failed}, {"checks", checks}}.dump(2)
        << "\n";
  } else {
    for (const auto& r : results) {
      char head[64];
      std::snprintf(head, sizeof head, "%-5s %-12s ", r.ok ? "ok" : "FAIL", r.name.c_str());
      out << head << one_line(r.detail) << "\n";
    }
    out << (failed.empty() ? "all " + std::to_string(results.size()) + " checks passed"
                           : std::to_string(failed.size()) + " of " +
                                 std::to_string(results.size()) + " checks failed: " + join(failed))
        << "\n";
  }
  return failed.empty() ? 0 : 1;
}

}  // namespace orders::ops
