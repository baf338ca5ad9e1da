// The write-side HTTP endpoints of docs/http-api.md as thin handlers: parse and validate (400),
// submit to the command pipeline, map the outcome to a response. Commands are asynchronous
// handlers: they run on the I/O thread and are answered from the committer, with no worker thread
// waiting in between. Reads (/events, /state) go to the event store through the pool. Every error
// is application/problem+json.
#pragma once
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "common/console/console_routes.hpp"
#include "common/http/server.hpp"
#include "write-side/commands/command_pipeline.hpp"

namespace orders::write_side {

struct ApiDeps {
  CommandPipeline& pipeline;
  pg::Pool& pool;
  log::Logger& log;
  metrics::Registry& metrics;
  // /readyz: extra readiness (e.g. the relay reaches NATS). Empty: always ready.
  std::function<bool()> extra_ready;
  // GET /ui: the web console, and where it finds the read-side (console/console_routes.hpp).
  console::ConsoleOptions console{};
};

class WriteApi {
 public:
  explicit WriteApi(ApiDeps deps);
  // Registers every route with its auth scope (command / query / admin / public).
  void register_routes(http::Router& router);

  // The response of a pipeline outcome (also what an Idempotency-Key stores): a 2xx carries
  // `ETag: "version"`, a problem the instance of the request (request_id) that decided it, so a
  // replay is the first response byte for byte.
  static StoredResponse render(const std::string& order_id, bool created, const Outcome& outcome,
                               const std::string& request_id);

  void create_order(const http::Request& req, http::Respond respond);
  void add_item(const http::Request& req, http::Respond respond);
  void remove_item(const http::Request& req, http::Respond respond);
  void confirm(const http::Request& req, http::Respond respond);
  void ship(const http::Request& req, http::Respond respond);
  void deliver(const http::Request& req, http::Respond respond);
  http::Response events(const http::Request& req);
  // GET /events?after_position=P&limit=N&wait_ms=W: the global log after P, oldest first; with
  // wait_ms, waits (long polling, re-reading every 200 ms) until an event is there or W passes.
  http::Response global_events(const http::Request& req);
  // Shutdown: waiting GET /events requests answer at once (empty), so a graceful stop does not
  // wait out their wait_ms. Call before http::Server::stop().
  void stop_waiting();
  // GET /orders/{id}/state and GET /orders/{id} (the Location of a 201): ETag "version",
  // If-None-Match -> 304.
  http::Response state(const http::Request& req);
  http::Response healthz(const http::Request& req);
  http::Response readyz(const http::Request& req);
  http::Response metrics(const http::Request& req);

 private:
  // Common tail of every command: If-Match, Idempotency-Key, submit; respond is called with the
  // mapped outcome from the committer thread once the command is decided (and committed).
  void submit(const http::Request& req, std::string order_id, domain::Command command, bool created,
              http::Respond respond);
  http::Response invalid(const http::Request& req, std::string_view command,
                         std::string_view detail);

  ApiDeps deps_;
  std::atomic<bool> migrations_ok_{false};
  std::mutex feed_mu_;
  std::condition_variable feed_cv_;
  bool stopping_ = false;  // guarded by feed_mu_
};

}  // namespace orders::write_side
