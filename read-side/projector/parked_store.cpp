#include "read-side/projector/parked_store.hpp"

#include "read-side/projector/locks.hpp"
#include "read-side/projector/pg_text.hpp"
#include "read-side/projector/view_store.hpp"

namespace orders::read_side {

void prepare_parked_statements(pqxx::connection& conn) {
  conn.prepare("rs_park_events",
               "SELECT unparked_order FROM rs_park_events($1, $2, $3::text[], $4::bigint[], "
               "$5::text[], $6::text[], $7::bigint[], $8::text[], $9::int[], $10::boolean[])");
  conn.prepare("rs_parked_orders", "SELECT DISTINCT order_id FROM parked_events");
  conn.prepare("rs_parked_list",
               "SELECT order_id, global_position, event_id::text, type, version, error, attempts, "
               "to_char(parked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
               "FROM parked_events WHERE $1::text = '' OR order_id = $1 "
               "ORDER BY order_id, global_position");
  conn.prepare("rs_parked_count", "SELECT count(*) FROM parked_events");
}

ParkedOrders load_parked_orders(pqxx::transaction_base& tx) {
  ParkedOrders out;
  for (const auto& row : tx.exec_prepared("rs_parked_orders")) out.insert(row[0].as<std::string>());
  return out;
}

std::vector<std::string> park_events(pqxx::transaction_base& tx,
                                     const std::vector<ParkedEvent>& events) {
  PgArrayText ids, positions, event_ids, types, versions, errors, attempts, held;
  for (const auto& e : events) {
    ids.add(e.order_id);
    positions.add(e.global_position);
    event_ids.add(e.event_id);
    types.add(e.type);
    versions.add(e.version);
    errors.add(e.error);
    attempts.add(static_cast<std::int64_t>(e.attempts));
    held.add(e.held ? "true" : "false");
  }
  std::vector<std::string> unparked;
  for (const auto& row :
       tx.exec_prepared("rs_park_events", kCutoverLockClass, static_cast<int>(projections().size()),
                        ids.finish(), positions.finish(), event_ids.finish(), types.finish(),
                        versions.finish(), errors.finish(), attempts.finish(), held.finish())) {
    unparked.push_back(row[0].as<std::string>());
  }
  return unparked;
}

std::vector<ParkedEvent> list_parked(pqxx::transaction_base& tx, const std::string& order_id) {
  std::vector<ParkedEvent> out;
  for (const auto& row : tx.exec_prepared("rs_parked_list", order_id)) {
    ParkedEvent e;
    e.order_id = row[0].as<std::string>();
    e.global_position = row[1].as<std::int64_t>();
    e.event_id = row[2].as<std::string>();
    e.type = row[3].as<std::string>();
    e.version = row[4].as<std::int64_t>();
    e.error = row[5].as<std::string>();
    e.attempts = row[6].as<int>();
    e.held = e.attempts == 0;
    e.parked_at = row[7].as<std::string>();
    out.push_back(std::move(e));
  }
  return out;
}

std::int64_t count_parked(pqxx::transaction_base& tx) {
  return tx.exec_prepared1("rs_parked_count")[0].as<std::int64_t>();
}

}  // namespace orders::read_side
