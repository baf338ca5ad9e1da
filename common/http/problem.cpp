#include "common/http/problem.hpp"

#include <array>
#include <string>

#include <nlohmann/json.hpp>

namespace orders::http {

namespace {

constexpr std::array kKinds = {
    ProblemKind{
        400, "invalid-request", "Invalid request", false,
        "The request is malformed: bad JSON, a missing, mistyped or out-of-range field, a "
        "bad id or query parameter, a bad header value, or a malformed URL or HTTP message.",
        "Fix the request as the detail says; sending it again unchanged fails again."},
    ProblemKind{401, "unauthorized", "Unauthorized", false,
                "The route's scope requires a bearer token and the request has none.",
                "Send Authorization: Bearer <token> with the token of the route's scope."},
    ProblemKind{403, "forbidden", "Forbidden", false,
                "The bearer token is not the token of the route's scope.",
                "Use the token of the scope (command, query or admin)."},
    ProblemKind{404, "not-found", "Not found", false, "No resource has this path.",
                "Check the path against the API description (GET /openapi.json)."},
    ProblemKind{404, "order-not-found", "Order not found", false,
                "The order does not exist (or, for /state, had no state at that version or time).",
                "Check the order id; create the order first."},
    ProblemKind{404, "item-not-in-order", "Item not in order", false,
                "The product is not a line of the order.",
                "Read the order's state; only its lines can be removed."},
    ProblemKind{404, "customer-not-found", "Customer not found", false,
                "No order of this customer is known to the read side.",
                "Check the customer id; a new customer appears once its first order is projected."},
    ProblemKind{405, "method-not-allowed", "Method not allowed", false,
                "The path exists but not with this method; the Allow header lists its methods.",
                "Use one of the methods in Allow."},
    ProblemKind{409, "order-already-exists", "Order already exists", false,
                "An order with this id exists already.",
                "Use another order id, or omit it to have one generated; to retry a create "
                "safely, send an Idempotency-Key."},
    ProblemKind{409, "order-not-draft", "Order is not a draft", false,
                "Items can be added or removed and an order confirmed only while it is a Draft.",
                "Read the order's state; the command cannot succeed any more."},
    ProblemKind{409, "order-has-no-items", "Order has no items", false,
                "An order needs at least one item to be confirmed.", "Add an item, then confirm."},
    ProblemKind{409, "order-not-confirmed", "Order is not confirmed", false,
                "Only a Confirmed order can be shipped.", "Confirm the order first."},
    ProblemKind{409, "order-not-shipped", "Order is not shipped", false,
                "Only a Shipped order can be delivered.", "Ship the order first."},
    ProblemKind{409, "price-mismatch", "Price differs from the order's", false,
                "The product is in the order at another price; a line has one price.",
                "Add it at the order's price, or remove the line and add it again."},
    ProblemKind{409, "quantity-too-large", "Quantity too large", false,
                "Adding to the line would take its quantity past 1,000,000,000 (one command "
                "adds at most 1,000,000).",
                "Keep a product's line at 1,000,000,000 or fewer."},
    ProblemKind{409, "order-total-too-large", "Order total too large", false,
                "The order's total would exceed 10,000,000,000,000.00 (10^15 cents).",
                "Split the order."},
    ProblemKind{409, "too-many-lines", "Too many lines in the order", false,
                "The order has the most lines allowed (MAX_ORDER_LINES, 1000 by default).",
                "Split the order, or add to an existing line."},
    ProblemKind{412, "version-mismatch", "Version mismatch", false,
                "If-Match named a version the order is not at: another command came first.",
                "Read the order again (its ETag is its version), decide again, retry with the "
                "new version."},
    ProblemKind{413, "payload-too-large", "Payload too large", false,
                "The request body exceeds the body limit (1 MiB by default); the connection is "
                "closed.",
                "Send a smaller body."},
    ProblemKind{413, "event-too-large", "Event too large", false,
                "An event the command would append exceeds the event size limit (data + "
                "metadata, EVENT_LIMIT_BYTES, 64 KiB by default); nothing was appended.",
                "Send shorter field values or headers (X-Request-Id, X-Correlation-Id); sending "
                "it again unchanged fails again."},
    ProblemKind{422, "idempotency-key-reused", "Idempotency-Key reused", false,
                "The Idempotency-Key was used before for another body or endpoint.",
                "Use a new key for a new request; reuse a key only to retry the same request."},
    ProblemKind{431, "header-too-large", "Request header fields too large", false,
                "The request head exceeds 16 KiB; the connection is closed.",
                "Send fewer or shorter headers."},
    ProblemKind{500, "internal", "Internal error", false,
                "An unexpected failure; the details are in the server log under the request id "
                "(instance).",
                "Report it with the instance; a command may or may not have been applied, so "
                "retry it only with an Idempotency-Key."},
    ProblemKind{503, "unavailable", "Service unavailable", true,
                "A dependency (PostgreSQL) is unreachable or busy; the request was not done, or "
                "the service cannot know that it was.",
                "Retry after Retry-After seconds; retry a command with the same Idempotency-Key."},
    ProblemKind{503, "overloaded", "Too many connections", true,
                "The server is at its connection limit; the connection is closed.",
                "Retry after Retry-After seconds, or reuse keep-alive connections."},
    ProblemKind{503, "timeout", "Request took too long", true,
                "The handler ran past its time limit (30 s by default).",
                "Retry after Retry-After seconds; retry a command with the same Idempotency-Key."},
    ProblemKind{503, "not-yet-visible", "Not yet visible", true,
                "The read side has not reached min_version of this order within wait_ms.",
                "Retry after Retry-After seconds; check GET /projections for lag or parked "
                "events."},
    ProblemKind{503, "not-ready", "Not ready", true,
                "The service cannot serve yet: PostgreSQL or NATS is unreachable, or migrations "
                "are pending (the detail names which).",
                "Wait; route traffic elsewhere until /readyz answers 200."},
};
static_assert(kKinds.size() == static_cast<std::size_t>(Problem::NotReady) + 1,
              "one row per Problem, in declaration order");

std::string html_escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

}  // namespace

const ProblemKind& kind_of(Problem p) {
  return kKinds.at(static_cast<std::size_t>(p));
}

Problem problem_for(domain::RejectionCode code) {
  using domain::RejectionCode;
  switch (code) {
    case RejectionCode::OrderNotFound:
      return Problem::OrderNotFound;
    case RejectionCode::AlreadyExists:
      return Problem::OrderAlreadyExists;
    case RejectionCode::NotDraft:
      return Problem::OrderNotDraft;
    case RejectionCode::ItemNotInOrder:
      return Problem::ItemNotInOrder;
    case RejectionCode::NoItems:
      return Problem::OrderHasNoItems;
    case RejectionCode::NotConfirmed:
      return Problem::OrderNotConfirmed;
    case RejectionCode::NotShipped:
      return Problem::OrderNotShipped;
    case RejectionCode::PriceMismatch:
      return Problem::PriceMismatch;
    case RejectionCode::QuantityTooLarge:
      return Problem::QuantityTooLarge;
    case RejectionCode::TotalTooLarge:
      return Problem::OrderTotalTooLarge;
    case RejectionCode::TooManyLines:
      return Problem::TooManyLines;
  }
  return Problem::Internal;
}

const ProblemKind* kind_by_slug(std::string_view slug) {
  for (const auto& k : kKinds)
    if (k.slug == slug) return &k;
  return nullptr;
}

std::vector<ProblemKind> all_kinds() {
  return {kKinds.begin(), kKinds.end()};
}

std::string request_instance(std::string_view request_id) {
  return "urn:request:" + std::string(request_id);
}

Response problem(Problem p, std::string_view detail, std::string_view request_id) {
  const ProblemKind& k = kind_of(p);
  nlohmann::json body = {{"type", "/problems/" + std::string(k.slug)},
                         {"title", std::string(k.title)},
                         {"status", k.status},
                         {"detail", std::string(detail)}};
  if (!request_id.empty()) body["instance"] = request_instance(request_id);
  Response res = json_response(k.status, body);
  res.content_type = "application/problem+json";
  if (k.retry_after) res.headers.emplace_back("Retry-After", "1");
  return res;
}

void add_instance(Response& res, std::string_view request_id) {
  if (res.content_type != "application/problem+json" || request_id.empty()) return;
  auto body = nlohmann::json::parse(res.body, nullptr, false);
  if (!body.is_object() || body.contains("instance")) return;
  body["instance"] = request_instance(request_id);
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Response problem_page(std::string_view slug) {
  const ProblemKind* k = kind_by_slug(slug);
  if (k == nullptr) {
    return problem(Problem::NotFound,
                   "no problem type " + std::string(slug) + " (GET /openapi.json lists them)");
  }
  const std::string title = html_escaped(k->title);
  std::string page = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>";
  page += title + "</title></head><body>\n<h1>" + title + "</h1>\n<p>type <code>/problems/" +
          std::string(k->slug) + "</code>, status " + std::to_string(k->status) +
          (k->retry_after ? ", sent with Retry-After" : "") + ".</p>\n<p><b>What it means.</b> " +
          html_escaped(k->means) + "</p>\n<p><b>What to do.</b> " + html_escaped(k->advice) +
          "</p>\n</body></html>\n";
  return text_response(200, std::move(page), "text/html; charset=utf-8");
}

}  // namespace orders::http
