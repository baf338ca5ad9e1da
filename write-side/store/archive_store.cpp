#include "write-side/store/archive_store.hpp"

#include "common/pg/advisory_locks.hpp"

namespace orders::write_side {

void prepare_archive_statements(pqxx::connection& conn) {
  conn.prepare("ar_present",
               "SELECT to_regclass('events_archive') IS NOT NULL AND "
               "to_regprocedure('ws_archive_batch(bigint,bigint,bigint,integer,boolean)') "
               "IS NOT NULL");
  conn.prepare("ar_cutoff",
               "SELECT (extract(epoch FROM now()) * 1000000)::bigint - $1::bigint * 1000000");
  conn.prepare("ar_first",
               "SELECT coalesce((SELECT position FROM events ORDER BY position LIMIT 1), 0)");
  conn.prepare("ar_horizon", "SELECT ws_archive_horizon($1)");
  conn.prepare(
      "ar_batch",
      "SELECT orders, events, bytes, last_position FROM ws_archive_batch($1, $2, $3, $4, $5)");
  // The archive is partitioned by year (V052): its size is its partitions' (the parent has none).
  conn.prepare(
      "ar_sizes",
      "SELECT pg_total_relation_size('events'), "
      "(SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0)::bigint FROM pg_inherits "
      " WHERE inhparent = 'events_archive'::regclass)");
}

bool archive_tier_present(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  return tx.exec_prepared1("ar_present")[0].as<bool>();
}

bool try_lock_archive(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  return tx.exec_params1("SELECT pg_try_advisory_lock($1)", pg::kArchiveLockKey)[0].as<bool>();
}

ArchiveScope archive_scope(pqxx::connection& conn, std::chrono::seconds older_than) {
  pqxx::nontransaction tx(conn);
  ArchiveScope scope;
  scope.cutoff_us = tx.exec_prepared1("ar_cutoff", static_cast<std::int64_t>(older_than.count()))[0]
                        .as<std::int64_t>();
  scope.first_position = tx.exec_prepared1("ar_first")[0].as<std::int64_t>();
  scope.horizon = tx.exec_prepared1("ar_horizon", scope.cutoff_us)[0].as<std::int64_t>();
  return scope;
}

ArchiveBatch archive_batch(pqxx::connection& conn, const ArchiveScope& scope, std::int64_t after,
                           int orders, bool move) {
  pqxx::nontransaction tx(conn);  // one statement: its own transaction
  const auto row =
      tx.exec_prepared1("ar_batch", after, scope.horizon, scope.cutoff_us, orders, move);
  ArchiveBatch b;
  b.orders = row[0].as<std::int64_t>();
  b.events = row[1].as<std::int64_t>();
  b.bytes = row[2].as<std::int64_t>();
  if (!row[3].is_null()) b.last_position = row[3].as<std::int64_t>();
  return b;
}

TierSizes tier_sizes(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  const auto row = tx.exec_prepared1("ar_sizes");
  return {row[0].as<std::int64_t>(), row[1].as<std::int64_t>()};
}

void vacuum_hot(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  tx.exec("VACUUM (ANALYZE) events, events_archive");
}

void compact_hot(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  tx.exec("VACUUM (FULL, ANALYZE) events");
  tx.exec("VACUUM (ANALYZE) events_archive");
}

}  // namespace orders::write_side
