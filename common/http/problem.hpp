// The one table of failures a client can see: each kind has its HTTP status, problem type slug
// (the stable part a client branches on), title and whether it carries Retry-After. Both services
// answer every failure through it, so the same failure has the same body everywhere.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "common/domain/order.hpp"
#include "common/http/server.hpp"

namespace orders::http {

enum class Problem {
  InvalidRequest,  // 400: malformed JSON, HTTP, URL, field, parameter
  Unauthorized,    // 401
  Forbidden,       // 403
  NotFound,        // 404: no such route
  OrderNotFound,
  ItemNotInOrder,
  CustomerNotFound,
  MethodNotAllowed,    // 405
  OrderAlreadyExists,  // 409: the order's rules
  OrderNotDraft,
  OrderHasNoItems,
  OrderNotConfirmed,
  OrderNotShipped,
  PriceMismatch,
  QuantityTooLarge,
  OrderTotalTooLarge,
  TooManyLines,
  VersionMismatch,       // 412: If-Match
  PayloadTooLarge,       // 413: the request body
  EventTooLarge,         // 413: an event the command would append
  IdempotencyKeyReused,  // 422
  HeaderTooLarge,        // 431
  Internal,              // 500
  Unavailable,           // 503: a dependency failed; nothing was done
  Overloaded,            // 503: too many connections
  Timeout,               // 503: the handler took too long
  NotYetVisible,         // 503: min_version not reached in time
  NotReady,              // 503: /readyz
};

struct ProblemKind {
  int status;
  std::string_view slug;  // type is "/problems/<slug>", served by both services (problem_page)
  std::string_view title;
  bool retry_after;         // "Retry-After: 1": retrying the same request may succeed
  std::string_view means;   // what it means, for the /problems/<slug> page
  std::string_view advice;  // what a client should do
};

const ProblemKind& kind_of(Problem p);
// The kind with this slug; nullptr when there is none.
const ProblemKind* kind_by_slug(std::string_view slug);
// Every kind, in the table's order.
std::vector<ProblemKind> all_kinds();
// The problem for a rule of the order the command broke.
Problem problem_for(domain::RejectionCode code);

// application/problem+json: {"type","title","status","detail"} (+ Retry-After when the kind says),
// and "instance" (request_instance) when a request id is given. The server adds the instance of
// the request it answers to a problem that has none (add_instance), so handlers may leave it out.
Response problem(Problem p, std::string_view detail, std::string_view request_id = {});

// A problem's "instance": "urn:request:<X-Request-Id>" (the id is [A-Za-z0-9._:-], URN-safe).
std::string request_instance(std::string_view request_id);
// Adds "instance" to an application/problem+json body that has none; other responses unchanged.
void add_instance(Response& res, std::string_view request_id);

// GET /problems/<slug>: a short text/html page on the kind (status, title, meaning, advice).
Response problem_page(std::string_view slug);

}  // namespace orders::http
