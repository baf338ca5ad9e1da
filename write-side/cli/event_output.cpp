#include "write-side/cli/event_output.hpp"

#include <cstdio>

namespace orders::write_side::cli {

std::string event_header() {
  char line[160];
  std::snprintf(line, sizeof line, "%10s  %-24s %7s  %-18s %-27s  %s\n", "GLOBAL", "ORDER_ID",
                "VERSION", "TYPE", "RECORDED_AT", "DATA");
  return line;
}

std::string event_line(const codec::RecordedEvent& e) {
  const std::string global = e.global_position ? std::to_string(*e.global_position) : "-";
  char head[512];
  std::snprintf(head, sizeof head, "%10s  %-24s %7lld  %-18s %-27s  ", global.c_str(),
                e.stream_id.c_str(), static_cast<long long>(e.version), e.type.c_str(),
                codec::format_rfc3339_us(e.recorded_at_us).c_str());
  return head + e.data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

nlohmann::json event_json(const codec::RecordedEvent& e) {
  auto j = codec::to_audit_json(e);
  j["order_id"] = e.stream_id;
  j["global_position"] = e.global_position ? nlohmann::json(*e.global_position) : nullptr;
  return j;
}

}  // namespace orders::write_side::cli
