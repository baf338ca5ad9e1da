#include "write-side/relay/lease.hpp"

namespace orders::relay {

std::unique_ptr<pqxx::connection> connect_pg(const std::string& url) {
  auto c = std::make_unique<pqxx::connection>(url);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  c->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  return c;
}

void prepare_lease(pqxx::connection& lease) {
  lease.prepare("relay_try_lock", "SELECT pg_try_advisory_lock($1)");
}

bool try_lock(pqxx::connection& lease, std::int64_t key) {
  pqxx::nontransaction tx(lease);
  return tx.exec_prepared("relay_try_lock", key)[0][0].as<bool>();
}

void check_lease(pqxx::connection& lease) {
  if (!lease.is_open()) throw LeaseLost("leader connection closed");
  lease.get_notifs();  // throws broken_connection when the server dropped us
  if (!lease.is_open()) throw LeaseLost("leader connection closed");
}

RelayState prepare_work(pqxx::connection& w, std::chrono::milliseconds statement_timeout) {
  w.prepare("relay_timeout", "SELECT set_config('statement_timeout', $1, false)");
  // One round trip per loop iteration (sql/functions/relay_step.sql): hint, sequencing, next events
  // to publish.
  w.prepare("relay_step", "SELECT * FROM relay_step($1, $2, $3, $4)");
  w.prepare("relay_set_published", "UPDATE relay_state SET last_published = $1 WHERE id = 1");
  w.prepare("relay_state", "SELECT last_sequenced, last_published FROM relay_state WHERE id = 1");
  w.prepare(
      "relay_event_at",
      "SELECT e.event_id::text FROM global_log g JOIN all_events e ON e.position = g.position "
      "WHERE g.global_position = $1");
  w.prepare("relay_outbox_count", "SELECT count(*) FROM outbox");
  pqxx::nontransaction tx(w);
  tx.exec_prepared("relay_timeout", std::to_string(statement_timeout.count()));
  // Every relay statement is a short index range; never let stale statistics of a young table
  // turn one into a scan of `events` (see sql/functions/relay_step.sql).
  tx.exec(
      "SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_hashjoin = off; "
      "SET enable_mergejoin = off");
  auto st = tx.exec_prepared("relay_state");
  return RelayState{st[0][0].as<std::uint64_t>(), st[0][1].as<std::uint64_t>()};
}

}  // namespace orders::relay
