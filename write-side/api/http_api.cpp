#include "write-side/api/http_api.hpp"

#include <charconv>

#include "api/openapi_specs.hpp"
#include "common/codec/command_codec.hpp"
#include "common/codec/recorded_event.hpp"
#include "common/codec/state_codec.hpp"
#include "common/http/conditional.hpp"
#include "common/http/contract_routes.hpp"
#include "common/http/problem.hpp"
#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "common/pg/migrations.hpp"
#include "common/pg/pool.hpp"
#include "write-side/crypto/sha256.hpp"
#include "write-side/crypto/uuid.hpp"
#include "write-side/store/log_reads.hpp"

namespace orders::write_side {
namespace {

using http::Request;
using http::Response;

constexpr std::int64_t kDefaultEventsLimit = 1000;
constexpr std::int64_t kMaxEventsLimit = 10000;
constexpr std::size_t kMaxIdempotencyKeyLength = 255;
constexpr std::int64_t kDefaultFeedLimit = 100;
constexpr std::int64_t kMaxFeedLimit = 1000;
constexpr std::int64_t kMaxFeedWaitMs = 10000;  // well under the server's handler_timeout
// The global log has no wake-up to wait on here (the outbox NOTIFY trigger is gone, V012): a
// waiting feed request re-reads at this period, holding a worker thread but no connection; only
// a shutdown (stop_waiting) wakes it early.
constexpr auto kFeedPoll = std::chrono::milliseconds(200);

Response bad_request(std::string_view detail) {
  return http::problem(http::Problem::InvalidRequest, detail);
}

// A non-negative decimal integer with no sign, spaces or leading garbage.
std::optional<std::int64_t> parse_count(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

bool valid_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxIdempotencyKeyLength) return false;
  for (unsigned char c : key) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

Response to_response(const StoredResponse& stored) {
  Response res;
  res.status = stored.status;
  res.content_type = stored.status >= 400 ? "application/problem+json" : "application/json";
  res.body = stored.body;
  res.headers = stored.headers;
  return res;
}

const std::string& path_param(const Request& req, const char* name) {
  static const std::string kEmpty;
  auto it = req.path_params.find(name);
  return it == req.path_params.end() ? kEmpty : it->second;
}

// The request's ids for the events' metadata. The correlation id is the client's
// X-Correlation-Id when it is sane (the rule of X-Request-Id), else the trace id: a client that
// propagates one traceparent across its calls gets them correlated without another header.
CommandTrace command_trace(const Request& req) {
  CommandTrace t;
  t.request_id = req.request_id;
  t.trace_id = req.trace.trace_id;
  t.span_id = req.trace.span_id;
  if (!req.trace.trace_id.empty()) t.traceparent = req.trace.traceparent();
  auto correlation = req.header("x-correlation-id");
  t.correlation_id =
      correlation && http::sane_request_id(*correlation) ? *correlation : req.trace.trace_id;
  return t;
}

}  // namespace

WriteApi::WriteApi(ApiDeps deps) : deps_(std::move(deps)) {
  pg::Pool* pool = &deps_.pool;
  // Without a connection the scrape has no sample (the registry counts the failure).
  deps_.metrics.gauge_callback("orders_outbox_pending",
                               "Outbox rows not yet sequenced by the relay (read at scrape time)",
                               [pool]() -> double {
                                 auto lease = pool->acquire(std::chrono::milliseconds(500));
                                 return static_cast<double>(outbox_backlog(*lease));
                               });
  // /readyz as a gauge: Prometheus' `up` only says the scrape worked, and /metrics answers while
  // Postgres or NATS is down, so the "not ready" alert needs the readiness itself.
  deps_.metrics.gauge_callback("orders_ready",
                               "1 when GET /readyz answers 200 (read at scrape time)",
                               [this] { return readyz(Request{}).status == 200 ? 1.0 : 0.0; });
}

void WriteApi::register_routes(http::Router& router) {
  auto bind = [this](Response (WriteApi::*fn)(const Request&)) {
    return [this, fn](const Request& req) { return (this->*fn)(req); };
  };
  auto bind_async = [this](void (WriteApi::*fn)(const Request&, http::Respond)) {
    return [this, fn](const Request& req, http::Respond respond) {
      (this->*fn)(req, std::move(respond));
    };
  };
  router.add_async("POST", "/orders", bind_async(&WriteApi::create_order), "command");
  router.add_async("POST", "/orders/{id}/items", bind_async(&WriteApi::add_item), "command");
  router.add_async("DELETE", "/orders/{id}/items/{product_id}", bind_async(&WriteApi::remove_item),
                   "command");
  router.add_async("POST", "/orders/{id}/confirm", bind_async(&WriteApi::confirm), "command");
  router.add_async("POST", "/orders/{id}/ship", bind_async(&WriteApi::ship), "command");
  router.add_async("POST", "/orders/{id}/deliver", bind_async(&WriteApi::deliver), "command");
  // The Location of a 201: the order's state, as /state answers it (?version, ?at included).
  router.add("GET", "/orders/{id}", bind(&WriteApi::state), "query");
  router.add("GET", "/orders/{id}/events", bind(&WriteApi::events), "query");
  router.add("GET", "/orders/{id}/state", bind(&WriteApi::state), "query");
  router.add("GET", "/events", bind(&WriteApi::global_events), "query");
  router.add("GET", "/healthz", bind(&WriteApi::healthz), "public");
  router.add("GET", "/readyz", bind(&WriteApi::readyz), "public");
  router.add("GET", "/metrics", bind(&WriteApi::metrics), "admin");
  http::add_contract_routes(router, api::write_side_openapi_json());
  console::add_console_routes(router, deps_.console);
}

StoredResponse WriteApi::render(const std::string& order_id, bool created, const Outcome& outcome,
                                const std::string& request_id) {
  auto from = [](const Response& r) { return StoredResponse{r.status, r.body, r.headers}; };
  auto problem = [&](http::Problem p, std::string_view detail) {
    return from(http::problem(p, detail, request_id));
  };
  return std::visit(
      domain::Overloaded{
          [&](const Committed& c) {
            nlohmann::json body = {{"order_id", order_id}, {"version", c.version}};
            body["position"] =
                c.position == kPendingPosition ? nlohmann::json() : nlohmann::json(c.position);
            StoredResponse r{created ? 201 : 200, body.dump(), {}};
            r.headers.emplace_back("ETag", http::etag(c.version));
            if (created) r.headers.emplace_back("Location", "/orders/" + order_id);
            return r;
          },
          [&](const Rejected& r) {
            return problem(http::problem_for(r.rejection.code), r.rejection.detail);
          },
          [&](const VersionMismatch& m) {
            return problem(http::Problem::VersionMismatch,
                           "order " + order_id + " is at version " + std::to_string(m.actual) +
                               ", If-Match expected " + std::to_string(m.expected));
          },
          [&](const Replayed& r) { return r.response; },
          [&](const KeyReused&) {
            return problem(http::Problem::IdempotencyKeyReused,
                           "this Idempotency-Key was used for a different request "
                           "(another body or endpoint)");
          },
          [&](const Unavailable& u) { return problem(http::Problem::Unavailable, u.detail); },
          [&](const EventTooLarge& t) {
            return problem(http::Problem::EventTooLarge,
                           "the " + t.event_type + " event would take " + std::to_string(t.size) +
                               " bytes (data + metadata), over the limit of " +
                               std::to_string(t.limit) + " (EVENT_LIMIT_BYTES)");
          },
      },
      outcome);
}

Response WriteApi::invalid(const Request&, std::string_view command, std::string_view detail) {
  deps_.metrics
      .counter("orders_commands_total",
               "Commands handled by the write-side pipeline, by type and outcome",
               {{"type", std::string(command)}, {"outcome", "invalid"}})
      .inc();
  return bad_request(detail);
}

void WriteApi::submit(const Request& req, std::string order_id, domain::Command command,
                      bool created, http::Respond respond) {
  const auto name = domain::command_name(command);
  auto if_match = http::parse_if_match(req);
  if (if_match.malformed) {
    return respond(invalid(req, name, "If-Match must be one version tag such as \"3\""));
  }

  CommandRequest cr;
  cr.expected_version = if_match.version;
  if (auto key = req.header("idempotency-key")) {
    if (!valid_idempotency_key(*key)) {
      return respond(invalid(req, name, "Idempotency-Key must be 1-255 visible ASCII characters"));
    }
    cr.idempotency = IdempotencyInfo{*key, req.method + " " + req.path, sha256_hex(req.body)};
    cr.render = [created, rid = req.request_id](const std::string& id, const Outcome& o) {
      return render(id, created, o, rid);
    };
  }
  cr.order_id = std::move(order_id);
  cr.command = std::move(command);
  cr.trace = command_trace(req);
  std::string id = cr.order_id;
  deps_.pipeline.submit(std::move(cr), [id = std::move(id), created, rid = req.request_id,
                                        respond = std::move(respond)](const Outcome& o) {
    respond(to_response(render(id, created, o, rid)));
  });
}

void WriteApi::create_order(const Request& req, http::Respond respond) {
  auto body = codec::parse_body(req.body, false);
  if (auto* e = std::get_if<codec::ValidationError>(&body))
    return respond(invalid(req, "CreateOrder", e->detail));
  auto cmd = codec::parse_create_order(std::get<nlohmann::json>(body));
  if (auto* e = std::get_if<codec::ValidationError>(&cmd))
    return respond(invalid(req, "CreateOrder", e->detail));
  auto create = std::get<domain::CreateOrder>(std::move(cmd));
  if (create.order_id.empty()) create.order_id = uuid_v4();
  std::string id = create.order_id;
  submit(req, std::move(id), std::move(create), true, std::move(respond));
}

void WriteApi::add_item(const Request& req, http::Respond respond) {
  const auto& id = path_param(req, "id");
  if (auto e = codec::validate_id("order_id", id))
    return respond(invalid(req, "AddItem", e->detail));
  auto body = codec::parse_body(req.body, false);
  if (auto* e = std::get_if<codec::ValidationError>(&body))
    return respond(invalid(req, "AddItem", e->detail));
  auto cmd = codec::parse_add_item(std::get<nlohmann::json>(body));
  if (auto* e = std::get_if<codec::ValidationError>(&cmd))
    return respond(invalid(req, "AddItem", e->detail));
  submit(req, id, std::get<domain::AddItem>(std::move(cmd)), false, std::move(respond));
}

void WriteApi::remove_item(const Request& req, http::Respond respond) {
  const auto& id = path_param(req, "id");
  if (auto e = codec::validate_id("order_id", id))
    return respond(invalid(req, "RemoveItem", e->detail));
  const auto& product = path_param(req, "product_id");
  if (auto e = codec::validate_id("product_id", product))
    return respond(invalid(req, "RemoveItem", e->detail));
  submit(req, id, domain::RemoveItem{product}, false, std::move(respond));
}

void WriteApi::confirm(const Request& req, http::Respond respond) {
  const auto& id = path_param(req, "id");
  if (auto e = codec::validate_id("order_id", id))
    return respond(invalid(req, "ConfirmOrder", e->detail));
  auto body = codec::parse_body(req.body, true);
  if (auto* e = std::get_if<codec::ValidationError>(&body))
    return respond(invalid(req, "ConfirmOrder", e->detail));
  submit(req, id, domain::ConfirmOrder{}, false, std::move(respond));
}

void WriteApi::ship(const Request& req, http::Respond respond) {
  const auto& id = path_param(req, "id");
  if (auto e = codec::validate_id("order_id", id))
    return respond(invalid(req, "ShipOrder", e->detail));
  auto body = codec::parse_body(req.body, false);
  if (auto* e = std::get_if<codec::ValidationError>(&body))
    return respond(invalid(req, "ShipOrder", e->detail));
  auto cmd = codec::parse_ship_order(std::get<nlohmann::json>(body));
  if (auto* e = std::get_if<codec::ValidationError>(&cmd))
    return respond(invalid(req, "ShipOrder", e->detail));
  submit(req, id, std::get<domain::ShipOrder>(std::move(cmd)), false, std::move(respond));
}

void WriteApi::deliver(const Request& req, http::Respond respond) {
  const auto& id = path_param(req, "id");
  if (auto e = codec::validate_id("order_id", id))
    return respond(invalid(req, "DeliverOrder", e->detail));
  auto body = codec::parse_body(req.body, true);
  if (auto* e = std::get_if<codec::ValidationError>(&body))
    return respond(invalid(req, "DeliverOrder", e->detail));
  submit(req, id, domain::DeliverOrder{}, false, std::move(respond));
}

namespace {

// Why an order's events or state are not there: it never existed, or its history was dropped
// with an archive year (write-side archive-drop), which leaves only its last state.
std::string not_found_detail(pqxx::connection& conn, const std::string& id,
                             const std::string& when) {
  if (auto year = history_dropped_in(conn, id)) {
    return "the events of order " + id + " were removed with the archive of " +
           std::to_string(*year) + "; only its last state remains (/orders/" + id + "/state)";
  }
  return when.empty() ? "order " + id + " does not exist" : "order " + id + " has no state" + when;
}

}  // namespace

Response WriteApi::events(const Request& req) {
  const auto& id = path_param(req, "id");
  if (auto e = codec::validate_id("order_id", id)) return bad_request(e->detail);
  std::int64_t from_version = 1;
  std::int64_t limit = kDefaultEventsLimit;
  if (auto it = req.query.find("from_version"); it != req.query.end()) {
    auto v = parse_count(it->second);
    if (!v) return bad_request("from_version must be a non-negative integer");
    from_version = std::max<std::int64_t>(*v, 1);
  }
  if (auto it = req.query.find("limit"); it != req.query.end()) {
    auto v = parse_count(it->second);
    if (!v || *v < 1 || *v > kMaxEventsLimit)
      return bad_request("limit must be an integer from 1 to 10000");
    limit = *v;
  }
  auto lease = deps_.pool.acquire();
  auto events = read_events(*lease, id, from_version, limit);
  if (events.empty() && stream_version(*lease, id) == 0) {
    return http::problem(http::Problem::OrderNotFound, not_found_detail(*lease, id, ""));
  }
  auto list = nlohmann::json::array();
  for (const auto& e : events) list.push_back(codec::to_audit_json(e));
  return http::json_response(200, {{"order_id", id}, {"events", std::move(list)}});
}

namespace {

struct FeedQuery {
  std::int64_t after = 0;
  std::int64_t limit = kDefaultFeedLimit;
  std::int64_t wait_ms = 0;
};

// after_position (default 0), limit (1..1000, default 100), wait_ms (0..10000, default 0).
std::variant<FeedQuery, Response> parse_feed_query(const Request& req) {
  FeedQuery q;
  struct Param {
    const char* name;
    std::int64_t* value;
    std::int64_t min;
    std::int64_t max;
  };
  for (const Param& p : {Param{"after_position", &q.after, 0, std::int64_t{1} << 53},
                         Param{"limit", &q.limit, 1, kMaxFeedLimit},
                         Param{"wait_ms", &q.wait_ms, 0, kMaxFeedWaitMs}}) {
    auto it = req.query.find(p.name);
    if (it == req.query.end()) continue;
    auto v = parse_count(it->second);
    if (!v || *v < p.min || *v > p.max) {
      return bad_request(std::string(p.name) + " must be an integer from " + std::to_string(p.min) +
                         " to " + std::to_string(p.max));
    }
    *p.value = *v;
  }
  return q;
}

Response feed_response(const std::vector<codec::RecordedEvent>& events, std::int64_t after,
                       std::int64_t head) {
  auto list = nlohmann::json::array();
  std::int64_t next = after;
  for (const auto& e : events) {
    auto j = codec::to_audit_json(e);
    j["order_id"] = e.stream_id;
    j["global_position"] = e.global_position.value_or(0);
    next = e.global_position.value_or(next);
    list.push_back(std::move(j));
  }
  return http::json_response(200, {{"events", std::move(list)},
                                   {"next_after_position", next},
                                   {"last_position", std::max(head, next)}});
}

}  // namespace

Response WriteApi::global_events(const Request& req) {
  auto parsed = parse_feed_query(req);
  if (auto* r = std::get_if<Response>(&parsed)) return std::move(*r);
  const auto q = std::get<FeedQuery>(parsed);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(q.wait_ms);
  while (true) {
    std::vector<codec::RecordedEvent> events;
    std::int64_t head = 0;
    {
      auto lease = deps_.pool.acquire();
      events = read_global_log(*lease, q.after + 1, q.limit);
      head = global_log_head(*lease);
    }
    const auto now = std::chrono::steady_clock::now();
    if (!events.empty() || now >= deadline) return feed_response(events, q.after, head);
    std::unique_lock lock(feed_mu_);
    if (feed_cv_.wait_for(lock,
                          std::min<std::chrono::steady_clock::duration>(kFeedPoll, deadline - now),
                          [this] { return stopping_; })) {
      return feed_response(events, q.after, head);
    }
  }
}

void WriteApi::stop_waiting() {
  {
    std::lock_guard lock(feed_mu_);
    stopping_ = true;
  }
  feed_cv_.notify_all();
}

Response WriteApi::state(const Request& req) {
  const auto& id = path_param(req, "id");
  if (auto e = codec::validate_id("order_id", id)) return bad_request(e->detail);
  auto version_it = req.query.find("version");
  auto at_it = req.query.find("at");
  const bool by_version = version_it != req.query.end();
  const bool by_time = at_it != req.query.end();
  if (by_version && by_time) return bad_request("give either version or at, not both");

  std::optional<std::int64_t> version;
  std::optional<std::int64_t> at;
  if (by_version) {
    version = parse_count(version_it->second);
    if (!version) return bad_request("version must be a non-negative integer");
  } else if (by_time) {
    at = codec::parse_rfc3339_us(at_it->second);
    if (!at) return bad_request("at must be an RFC 3339 time such as 2026-11-26T23:22:45.123456Z");
  }
  auto lease = deps_.pool.acquire();
  std::optional<domain::OrderState> state;
  std::string when;
  if (version) {
    state = state_at_version(*lease, id, *version);
    when = " at version " + version_it->second;
  } else if (at) {
    state = state_at_time(*lease, id, *at);
    when = " at " + codec::format_rfc3339_us(*at);
  } else {
    state = current_state(*lease, id);
  }
  if (!state)
    return http::problem(http::Problem::OrderNotFound, not_found_detail(*lease, id, when));
  return http::conditional_get(req, state->version,
                               http::json_response(200, codec::state_to_json(*state)));
}

Response WriteApi::healthz(const Request&) {
  return http::json_response(200, {{"status", "ok"}});
}

Response WriteApi::readyz(const Request&) {
  try {
    auto lease = deps_.pool.acquire(std::chrono::milliseconds(1000));
    ping(*lease);
    if (!migrations_ok_.load()) {
      if (!pg::migrations_current(*lease)) {
        return http::problem(http::Problem::NotReady, "migrations are not applied");
      }
      migrations_ok_.store(true);
    }
  } catch (const std::exception&) {
    return http::problem(http::Problem::NotReady, "PostgreSQL is not reachable");
  }
  if (deps_.extra_ready && !deps_.extra_ready()) {
    return http::problem(http::Problem::NotReady, "NATS is not reachable");
  }
  return http::json_response(200, {{"status", "ready"}});
}

Response WriteApi::metrics(const Request&) {
  return http::text_response(200, deps_.metrics.render(),
                             "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace orders::write_side
