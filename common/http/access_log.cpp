// One JSON line per request at info and the request metrics.
#include <array>
#include <cmath>

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
  if (logger.enabled(log::Level::Info)) {
    nlohmann::json fields = {{"request_id", request_id},
                             {"method", method},
                             {"route", route},
                             {"status", status},
                             {"duration_ms", std::round(seconds * 1e6) / 1e3}};
    if (!trace_id.empty()) fields["trace_id"] = trace_id;
    logger.info("request", std::move(fields));
  }
}

}  // namespace orders::http
