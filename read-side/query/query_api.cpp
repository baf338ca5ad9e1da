#include "read-side/query/query_api.hpp"

#include <charconv>
#include <chrono>
#include <optional>

#include "api/openapi_specs.hpp"
#include "common/codec/command_codec.hpp"
#include "common/codec/recorded_event.hpp"
#include "common/codec/state_codec.hpp"
#include "common/domain/money.hpp"
#include "common/http/conditional.hpp"
#include "common/http/contract_routes.hpp"
#include "common/http/problem.hpp"
#include "common/log/logger.hpp"
#include "common/metrics/metrics.hpp"
#include "common/pg/migrations.hpp"
#include "common/pg/pool.hpp"
#include "read-side/query/cursor.hpp"
#include "read-side/query/projection_status.hpp"
#include "read-side/read_your_writes/version_waiters.hpp"
#include "read-side/view/order_view.hpp"

namespace orders::read_side {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kDefaultWaitMs = 2000;
constexpr int kMaxWaitMs = 10000;
constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 500;
constexpr auto kPeriodicRecheck = std::chrono::milliseconds(1000);

// Columns of an order row, in the order order_json() reads them; its lines as
// [[product_id, quantity, price_cents], ...] in line order.
constexpr const char* kOrderColumns =
    "order_id, customer_id, status, (SELECT coalesce(jsonb_agg(jsonb_build_array(l.product_id, "
    "l.quantity, l.price_cents) ORDER BY l.line), '[]') FROM order_items l "
    "WHERE l.order_id = orders.order_id)::text, total_cents, item_count, tracking_number, "
    "(extract(epoch from created_at) * 1000000)::bigint, "
    "(extract(epoch from confirmed_at) * 1000000)::bigint, "
    "(extract(epoch from shipped_at) * 1000000)::bigint, "
    "(extract(epoch from delivered_at) * 1000000)::bigint, version";

const char* list_statement(bool by_customer, bool by_status) {
  if (by_customer && by_status) return "rq_list_customer_status";
  if (by_customer) return "rq_list_customer";
  if (by_status) return "rq_list_status";
  return "rq_list_all";
}

http::Response bad_request(std::string_view detail) {
  return http::problem(http::Problem::InvalidRequest, detail);
}

std::optional<std::int64_t> parse_uint(std::string_view s, std::int64_t max) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size() || v < 0 || v > max) return std::nullopt;
  return v;
}

nlohmann::json ts_or_null(const pqxx::field& f) {
  if (f.is_null()) return nullptr;
  return codec::format_rfc3339_us(f.as<std::int64_t>());
}

std::vector<domain::Item> lines_of(const pqxx::field& f) {
  std::vector<domain::Item> items;
  const auto j = nlohmann::json::parse(f.c_str(), f.c_str() + f.size());
  items.reserve(j.size());
  for (const auto& l : j) {
    items.push_back(domain::Item{l.at(0).get<std::string>(), l.at(1).get<std::int64_t>(),
                                 l.at(2).get<std::int64_t>()});
  }
  return items;
}

nlohmann::json order_json(const pqxx::row& row) {
  domain::OrderState s;
  s.order_id = row[0].as<std::string>();
  s.customer_id = row[1].as<std::string>();
  s.status = parse_status(row[2].as<std::string>()).value_or(domain::Status::None);
  s.items = lines_of(row[3]);
  if (!row[6].is_null()) s.tracking_number = row[6].as<std::string>();
  s.version = row[11].as<std::int64_t>();
  auto j = codec::state_to_json(s);
  auto& items = j["items"];
  for (std::size_t i = 0; i < items.size() && i < s.items.size(); ++i) {
    items[i]["line_total"] = domain::format_cents(s.items[i].quantity * s.items[i].price);
  }
  j["total_amount"] = domain::format_cents(row[4].as<std::int64_t>());
  j["item_count"] = row[5].as<std::int64_t>();
  j["tracking_number"] =
      row[6].is_null() ? nlohmann::json(nullptr) : nlohmann::json(s.tracking_number);
  j["created_at"] = ts_or_null(row[7]);
  j["confirmed_at"] = ts_or_null(row[8]);
  j["shipped_at"] = ts_or_null(row[9]);
  j["delivered_at"] = ts_or_null(row[10]);
  return j;
}

// Runs fn with a pooled connection. A failure propagates to the server, which answers it from the
// problem table (503 + Retry-After when transient: pool exhausted, database away, statement
// timeout; else 500); a connection found broken is not returned to the pool.
template <class Fn>
http::Response with_db(QueryApiContext& ctx, Fn&& fn) {
  auto lease = ctx.pool.acquire();
  try {
    return fn(*lease);
  } catch (const pqxx::broken_connection&) {
    lease.discard();
    throw;
  }
}

// One read of an order for GET /orders/{id}. With min_version or If-None-Match, the version is
// read first: while waiting, or when the client has it already (304), the order is not rendered
// (a 1000-line order costs milliseconds to render). One statement each: its own snapshot, one
// round trip (a read_transaction adds BEGIN, SET TRANSACTION READ ONLY and ROLLBACK).
struct FetchedOrder {
  enum Outcome { Missing, Behind, NotModified, Found } outcome = Missing;
  std::int64_t version = 0;
  nlohmann::json order;
};

FetchedOrder fetch_order(pqxx::connection& c, const http::Request& req, const std::string& id,
                         const std::optional<std::int64_t>& min_version) {
  pqxx::nontransaction tx(c);
  FetchedOrder out;
  if (min_version || req.header("if-none-match")) {
    auto v = tx.exec_prepared("rq_order_version", id);
    if (v.empty()) return out;
    out.version = v[0][0].as<std::int64_t>();
    if (min_version && out.version < *min_version) {
      out.outcome = FetchedOrder::Behind;
      return out;
    }
    if (http::none_match_fails(req, out.version)) {
      out.outcome = FetchedOrder::NotModified;
      return out;
    }
  }
  auto r = tx.exec_prepared("rq_order", id);
  if (r.empty()) return out;
  out.order = order_json(r[0]);
  out.version = out.order["version"].get<std::int64_t>();
  out.outcome = FetchedOrder::Found;
  return out;
}

http::Response get_order(QueryApiContext& ctx, const http::Request& req) {
  const auto& id = req.path_params.at("id");
  if (auto err = codec::validate_id("order id", id)) return bad_request(err->detail);
  std::optional<std::int64_t> min_version;
  int wait_ms = kDefaultWaitMs;
  if (auto it = req.query.find("min_version"); it != req.query.end()) {
    min_version = parse_uint(it->second, std::int64_t{1} << 53);
    if (!min_version) return bad_request("min_version must be a non-negative integer");
  }
  if (auto it = req.query.find("wait_ms"); it != req.query.end()) {
    auto w = parse_uint(it->second, std::int64_t{1} << 53);
    if (!w) return bad_request("wait_ms must be a non-negative integer");
    wait_ms = static_cast<int>(std::min<std::int64_t>(*w, kMaxWaitMs));
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(wait_ms);
  // Registered before the first query: an apply committed after that query still wakes us.
  std::optional<VersionWaiters::Waiter> waiter;
  if (min_version) waiter.emplace(ctx.waiters, id, *min_version);
  struct Waiting {  // orders_min_version_waiting while this request waits
    metrics::Gauge* g;
    explicit Waiting(metrics::Gauge* gauge) : g(gauge) {
      if (g) g->add(1);
    }
    ~Waiting() {
      if (g) g->add(-1);
    }
    Waiting(const Waiting&) = delete;
    Waiting& operator=(const Waiting&) = delete;
  };
  std::optional<Waiting> waiting;
  while (true) {
    auto fetched = FetchedOrder{};
    auto resp = with_db(ctx, [&](pqxx::connection& c) {
      fetched = fetch_order(c, req, id, min_version);
      return http::Response{};
    });
    if (resp.status != 200) return resp;
    if (fetched.outcome == FetchedOrder::NotModified) return http::not_modified(fetched.version);
    if (fetched.outcome == FetchedOrder::Found) {
      return http::conditional_get(req, fetched.version, http::json_response(200, fetched.order));
    }
    if (!min_version) return http::problem(http::Problem::OrderNotFound, "no order " + id);
    // Woken only when an apply (local, or another replica's NOTIFY) committed this order at
    // >= min_version, or when the committed orders are unknown (wake-all); the periodic
    // re-check is a safety net for a lost notification.
    while (true) {
      if (Clock::now() >= deadline) {
        return http::problem(http::Problem::NotYetVisible,
                             "order " + id + " has not reached version " +
                                 std::to_string(*min_version) + " on the read side yet");
      }
      if (!waiting) waiting.emplace(ctx.waiting);
      const auto wake = waiter->wait(std::min(deadline, Clock::now() + kPeriodicRecheck));
      if (wake == VersionWaiters::Wake::Reached) {
        if (ctx.requery_reached) ctx.requery_reached->inc();
        break;
      }
      if (wake == VersionWaiters::Wake::Recheck) {
        if (ctx.requery_wake_all) ctx.requery_wake_all->inc();
        break;
      }
      if (Clock::now() < deadline) {
        if (ctx.requery_periodic) ctx.requery_periodic->inc();
        break;
      }
    }
  }
}

http::Response list_orders(QueryApiContext& ctx, const http::Request& req) {
  std::optional<std::string> customer, status;
  int limit = kDefaultLimit;
  std::optional<ListCursor> after;
  if (auto it = req.query.find("customer_id"); it != req.query.end()) {
    if (auto err = codec::validate_id("customer_id", it->second)) return bad_request(err->detail);
    customer = it->second;
  }
  if (auto it = req.query.find("status"); it != req.query.end()) {
    if (!parse_status(it->second))
      return bad_request("status must be Draft, Confirmed, Shipped or Delivered");
    status = it->second;
  }
  if (auto it = req.query.find("limit"); it != req.query.end()) {
    auto l = parse_uint(it->second, 1'000'000'000);
    if (!l || *l < 1 || *l > kMaxLimit)
      return bad_request("limit must be an integer from 1 to 500");
    limit = static_cast<int>(*l);
  }
  if (auto it = req.query.find("after"); it != req.query.end()) {
    after = decode_cursor(it->second);
    if (!after) return bad_request("after is not a cursor returned by this API");
  }
  return with_db(ctx, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);  // one statement (see get_order)
    const char* stmt = list_statement(customer.has_value(), status.has_value());
    // NULL (no cursor) as a null const char*: libpqxx 6.4 has no std::optional parameters.
    std::string after_us_text, after_id;
    const char* after_us = nullptr;
    if (after) {
      after_us_text = std::to_string(after->created_at_us);
      after_us = after_us_text.c_str();
      after_id = after->order_id;
    }
    pqxx::result r;
    if (customer && status) {
      r = tx.exec_prepared(stmt, *customer, *status, after_us, after_id, limit + 1);
    } else if (customer) {
      r = tx.exec_prepared(stmt, *customer, after_us, after_id, limit + 1);
    } else if (status) {
      r = tx.exec_prepared(stmt, *status, after_us, after_id, limit + 1);
    } else {
      r = tx.exec_prepared(stmt, after_us, after_id, limit + 1);
    }
    auto orders = nlohmann::json::array();
    nlohmann::json next = nullptr;
    const auto n = std::min<std::size_t>(r.size(), static_cast<std::size_t>(limit));
    for (std::size_t i = 0; i < n; ++i) orders.push_back(order_json(r[static_cast<int>(i)]));
    if (r.size() > n && n > 0) {
      const auto& last = r[static_cast<int>(n - 1)];
      next = encode_cursor(ListCursor{last[7].as<std::int64_t>(), last[0].as<std::string>()});
    }
    return http::json_response(200, {{"orders", std::move(orders)}, {"next", std::move(next)}});
  });
}

// A sum over any number of orders: numeric in SQL, formatted from its digits, never 64 bits.
std::string lifetime_value(const pqxx::field& cents) {
  auto formatted = domain::format_cents_digits(cents.c_str());
  if (!formatted)
    throw std::runtime_error("lifetime value is not an integer: " + cents.as<std::string>());
  return *formatted;
}

http::Response get_customer(QueryApiContext& ctx, const http::Request& req) {
  const auto& id = req.path_params.at("id");
  if (auto err = codec::validate_id("customer id", id)) return bad_request(err->detail);
  return with_db(ctx, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);  // one statement (see get_order)
    auto row = tx.exec_prepared1("rq_customer", id);
    const auto count = row[0].as<std::int64_t>();
    if (count == 0)
      return http::problem(http::Problem::CustomerNotFound, "no orders for customer " + id);
    return http::json_response(200, {{"customer_id", id},
                                     {"order_count", count},
                                     {"open_orders", row[1].as<std::int64_t>()},
                                     {"lifetime_value", lifetime_value(row[2])}});
  });
}

http::Response get_projections(QueryApiContext& ctx) {
  return with_db(ctx, [&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto out = nlohmann::json::array();
    for (const auto& s : read_projection_status(tx)) {
      out.push_back({{"name", s.name},
                     {"state", s.state},
                     {"last_position", s.last_position},
                     {"lag_events", s.lag_events},
                     {"lag_seconds", s.lag_seconds},
                     {"parked", s.parked}});
    }
    return http::json_response(200, out);
  });
}

http::Response readyz(QueryApiContext& ctx) {
  bool pg_ok = false, migrated = false;
  try {
    auto lease = ctx.pool.acquire(std::chrono::milliseconds(1000));
    try {
      {
        pqxx::nontransaction n(*lease);
        n.exec("SELECT 1");
      }  // closed before migrations_current opens its own transaction on the connection
      pg_ok = true;
      migrated = pg::migrations_current(*lease);
    } catch (const pqxx::broken_connection&) {
      lease.discard();
    }
  } catch (const std::exception&) {
  }
  const bool nats_ok = ctx.bus_connected && ctx.bus_connected();
  nlohmann::json checks = {{"postgres", pg_ok}, {"migrations", migrated}, {"nats", nats_ok}};
  if (pg_ok && migrated && nats_ok)
    return http::json_response(200, {{"status", "ready"}, {"checks", checks}});
  return http::problem(http::Problem::NotReady, std::string("postgres ") + (pg_ok ? "ok" : "down") +
                                                    ", migrations " +
                                                    (migrated ? "current" : "pending") + ", nats " +
                                                    (nats_ok ? "ok" : "down"));
}

}  // namespace

void prepare_query_statements(pqxx::connection& conn) {
  conn.prepare("rq_order",
               std::string("SELECT ") + kOrderColumns + " FROM orders WHERE order_id = $1");
  conn.prepare("rq_order_version", "SELECT version FROM orders WHERE order_id = $1");
  const std::string keyset =
      "(created_at, order_id) < (coalesce(timestamptz 'epoch' + $X::bigint * interval '1 "
      "microsecond', "
      "'infinity'::timestamptz), $Y::text) ORDER BY created_at DESC, order_id DESC LIMIT $Z::int";
  auto with_params = [&](int first) {
    std::string k = keyset;
    k.replace(k.find("$X"), 2, "$" + std::to_string(first));
    k.replace(k.find("$Y"), 2, "$" + std::to_string(first + 1));
    k.replace(k.find("$Z"), 2, "$" + std::to_string(first + 2));
    return k;
  };
  const std::string select = std::string("SELECT ") + kOrderColumns + " FROM orders WHERE ";
  // No index on created_at alone (every non-HOT update of an order would write an entry into it):
  // newest first over all orders is the newest of each status' own index range (statuses are few).
  std::string all = "SELECT * FROM (";
  for (domain::Status status : kStoredStatuses) {
    if (all.back() != '(') all += " UNION ALL ";
    all += std::string("(SELECT ") + kOrderColumns +
           ", created_at AS sort_created_at FROM orders WHERE status = '" +
           std::string(domain::to_string(status)) + "' AND " + with_params(1) + ")";
  }
  all += ") u ORDER BY sort_created_at DESC, order_id DESC LIMIT $3::int";
  conn.prepare("rq_list_all", all);
  conn.prepare("rq_list_customer", select + "customer_id = $1 AND " + with_params(2));
  conn.prepare("rq_list_status", select + "status = $1 AND " + with_params(2));
  conn.prepare("rq_list_customer_status",
               select + "customer_id = $1 AND status = $2 AND " + with_params(3));
  conn.prepare("rq_customer",
               "SELECT count(*), count(*) FILTER (WHERE status = 'Draft'), "
               "coalesce(sum(total_cents) FILTER (WHERE status IN ('Confirmed', 'Shipped', "
               "'Delivered')), 0)::text FROM customer_orders WHERE customer_id = $1");
  prepare_status_statements(conn);
}

http::Router make_query_router(QueryApiContext& ctx) {
  // Scopes are enforced by the server (ServerOptions::tokens): "query" for queries, "admin" for
  // /metrics; health checks are public.
  const char* help = "Queries of GET /orders/{id}?min_version after the first, by cause";
  ctx.requery_reached =
      &ctx.metrics.counter("orders_min_version_requeries_total", help, {{"cause", "reached"}});
  ctx.requery_wake_all =
      &ctx.metrics.counter("orders_min_version_requeries_total", help, {{"cause", "wake_all"}});
  ctx.requery_periodic =
      &ctx.metrics.counter("orders_min_version_requeries_total", help, {{"cause", "periodic"}});
  ctx.waiting = &ctx.metrics.gauge("orders_min_version_waiting",
                                   "GET /orders/{id} requests waiting for min_version");
  // /readyz as a gauge, for the "not ready" alert (`up` only says the scrape worked).
  ctx.metrics.gauge_callback("orders_ready", "1 when GET /readyz answers 200 (read at scrape time)",
                             [&ctx] { return readyz(ctx).status == 200 ? 1.0 : 0.0; });
  http::Router router;
  router.add(
      "GET", "/orders/{id}", [&ctx](const http::Request& r) { return get_order(ctx, r); }, "query");
  router.add(
      "GET", "/orders", [&ctx](const http::Request& r) { return list_orders(ctx, r); }, "query");
  router.add(
      "GET", "/customers/{id}", [&ctx](const http::Request& r) { return get_customer(ctx, r); },
      "query");
  router.add(
      "GET", "/projections", [&ctx](const http::Request&) { return get_projections(ctx); },
      "query");
  router.add(
      "GET", "/metrics",
      [&ctx](const http::Request&) {
        http::Response r;
        r.content_type = "text/plain; version=0.0.4";
        r.body = ctx.metrics.render();
        return r;
      },
      "admin");
  router.add("GET", "/healthz", [](const http::Request&) {
    return http::json_response(200, {{"status", "ok"}});
  });
  router.add("GET", "/readyz", [&ctx](const http::Request&) { return readyz(ctx); });
  http::add_contract_routes(router, api::read_side_openapi_json());
  return router;
}

}  // namespace orders::read_side
