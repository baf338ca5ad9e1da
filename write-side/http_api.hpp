// The write-side HTTP endpoints of DESIGN.md as thin handlers: parse and validate (400), submit to
// the command pipeline, map the outcome to a response. Reads (/events, /state) go to the event
// store through the pool. Every error is application/problem+json.
#pragma once
#include <functional>
#include <string>

#include "group_commit.hpp"
#include "http/server.hpp"

namespace orders::write_side {

struct ApiDeps {
  CommandPipeline& pipeline;
  pg::Pool& pool;
  log::Logger& log;
  metrics::Registry& metrics;
  // /readyz: extra readiness (e.g. the relay reaches NATS). Empty: always ready.
  std::function<bool()> extra_ready;
};

class WriteApi {
 public:
  explicit WriteApi(ApiDeps deps);
  // Registers every route with its auth scope (command / query / admin / public).
  void register_routes(http::Router& router);

  // The response of a pipeline outcome (also what an Idempotency-Key stores).
  static StoredResponse render(const std::string& order_id, bool created, const Outcome& outcome);

  http::Response create_order(const http::Request& req);
  http::Response add_item(const http::Request& req);
  http::Response remove_item(const http::Request& req);
  http::Response confirm(const http::Request& req);
  http::Response ship(const http::Request& req);
  http::Response deliver(const http::Request& req);
  http::Response events(const http::Request& req);
  http::Response state(const http::Request& req);
  http::Response healthz(const http::Request& req);
  http::Response readyz(const http::Request& req);
  http::Response metrics(const http::Request& req);

 private:
  // Common tail of every command: If-Match, Idempotency-Key, submit, map.
  http::Response submit(const http::Request& req, std::string order_id, domain::Command command,
                        bool created);
  http::Response invalid(const http::Request& req, std::string_view command, std::string_view detail);

  ApiDeps deps_;
  std::atomic<bool> migrations_ok_{false};
};

}  // namespace orders::write_side
