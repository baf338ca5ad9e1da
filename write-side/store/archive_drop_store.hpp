// The statements of `write-side archive-drop` (docs/storage.md): what a year's archive partition
// holds, the final snapshots of its orders, and the drop itself.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace orders::write_side {

struct ArchiveYear {
  bool present = false;     // the partition events_archive_y<YYYY> exists
  std::int64_t orders = 0;  // archived_streams rows of the year not dropped yet
  std::int64_t events = 0;  // rows of the partition
  std::int64_t bytes = 0;   // pg_total_relation_size of the partition: heap, TOAST, indexes
};

void prepare_archive_drop_statements(pqxx::connection& conn);
// The database's current year (the clock that chose the partition of each archive run).
int current_year(pqxx::connection& conn);
ArchiveYear archive_year(pqxx::connection& conn, int year);
// Up to `limit` orders archived in `year` and not dropped, ordered by id, after `after`.
std::vector<std::string> year_orders(pqxx::connection& conn, int year, const std::string& after,
                                     int limit);
// Stores each order's current state (loaded from snapshot + events, both tiers) as its snapshot:
// after the drop, commands still load it (and answer the 409 they did) and /state still shows
// it. Idempotent: an equal or newer snapshot is kept.
void write_final_snapshots(pqxx::connection& conn, const std::vector<std::string>& orders);
// One transaction (sql/functions/ws_archive_drop_year.sql): marks the year's orders dropped and
// drops the partition. Returns the orders marked.
std::int64_t drop_year(pqxx::connection& conn, int year);

}  // namespace orders::write_side
