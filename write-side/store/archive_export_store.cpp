#include "write-side/store/archive_export_store.hpp"

namespace orders::write_side {

void prepare_archive_export_statements(pqxx::connection& conn) {
  // Rendered by Postgres (jsonb text: the stored data and metadata verbatim); the partition key
  // range prunes the scan to the year's partition, walked by its (position, archived_on) key.
  conn.prepare(
      "ax_page",
      "SELECT a.position, jsonb_build_object('position', a.position, "
      "  'global_position', g.global_position, 'event_id', a.event_id, 'stream_id', a.stream_id, "
      "  'version', a.version, 'type', a.type, 'schema_version', a.schema_version, "
      "  'recorded_at', to_char(a.recorded_at AT TIME ZONE 'UTC', "
      "                         'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
      "  'data', a.data, 'metadata', a.metadata)::text "
      "FROM events_archive a LEFT JOIN global_log g ON g.position = a.position "
      "WHERE a.archived_on >= make_date($1::int, 1, 1) "
      "  AND a.archived_on < make_date($1::int + 1, 1, 1) AND a.position > $2 "
      "ORDER BY a.position LIMIT $3");
}

std::vector<ExportLine> year_event_lines(pqxx::connection& conn, int year, std::int64_t after,
                                         int limit) {
  pqxx::nontransaction tx(conn);
  std::vector<ExportLine> out;
  for (const auto& row : tx.exec_prepared("ax_page", year, after, limit))
    out.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>()});
  return out;
}

}  // namespace orders::write_side
