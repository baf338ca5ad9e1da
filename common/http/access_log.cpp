// One JSON line per request at info and the request metrics.
#include <array>
#include <cstdio>

#include "common/http/detail/server_impl.hpp"
#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"

namespace orders::http {

namespace {
// Metric label values stay a small set whatever methods clients send.
std::string metric_method(const std::string& m) {
  static constexpr std::array<std::string_view, 7> known = {"GET",   "POST",    "PUT", "DELETE",
                                                            "PATCH", "OPTIONS", "HEAD"};
  for (auto k : known)
    if (m == k) return m;
  return "OTHER";
}
}  // namespace

void Server::Impl::count_request(const std::string& method, const std::string& route, int status,
                                 double seconds) {
  metrics
      .counter("orders_http_requests_total", "HTTP requests by method, route and status code",
               {{"method", method}, {"route", route}, {"code", std::to_string(status)}})
      .inc();
  metrics
      .histogram("orders_http_request_duration_seconds", "HTTP request latency by route",
                 {{"route", route}})
      .observe(seconds);
}

void Server::Impl::access_log(const std::string& request_id, const std::string& method,
                              const std::string& route, int status,
                              std::chrono::steady_clock::time_point started,
                              const std::string& trace_id) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  count_request(metric_method(method), route, status, seconds);
  if (!logger.enabled(log::Level::Info)) return;
  // Rendered by hand: one line per request is the log's hot path (docs/performance.md).
  std::string fields;
  fields.reserve(160);
  fields += "\"request_id\":";
  log::append_json_string(fields, request_id);
  fields += ",\"method\":";
  log::append_json_string(fields, method);
  fields += ",\"route\":";
  log::append_json_string(fields, route);
  fields += ",\"status\":";
  fields += std::to_string(status);
  char duration[32];
  std::snprintf(duration, sizeof duration, ",\"duration_ms\":%.3f", seconds * 1e3);
  fields += duration;
  if (!trace_id.empty()) {
    fields += ",\"trace_id\":";
    log::append_json_string(fields, trace_id);
  }
  logger.write_rendered(log::Level::Info, "request", fields);
}

}  // namespace orders::http
