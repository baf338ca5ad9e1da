// The read of `write-side archive-export`: a year's archived events in position order, each one
// JSON line exactly as stored (data and metadata not upcast), with its global position.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace orders::write_side {

struct ExportLine {
  std::int64_t position = 0;
  std::string json;  // {"position","global_position","event_id","stream_id","version","type",
                     //  "schema_version","recorded_at","data","metadata"}
};

void prepare_archive_export_statements(pqxx::connection& conn);
// Up to `limit` events of the year's archive partition with a position above `after`.
std::vector<ExportLine> year_event_lines(pqxx::connection& conn, int year, std::int64_t after,
                                         int limit);

}  // namespace orders::write_side
