// How `write-side events` and `write-side log` print an event: one aligned text line, or one JSON
// object (the audit-trail fields of docs/http-api.md plus order_id and global_position).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "common/codec/recorded_event.hpp"

namespace orders::write_side::cli {

// "GLOBAL_POSITION  ORDER_ID  VERSION  TYPE  RECORDED_AT  DATA"; "-" when not yet sequenced.
std::string event_header();
std::string event_line(const codec::RecordedEvent& e);
nlohmann::json event_json(const codec::RecordedEvent& e);

}  // namespace orders::write_side::cli
