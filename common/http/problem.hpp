// The one table of failures a client can see: each kind has its HTTP status, problem type slug
// (the stable part a client branches on), title and whether it carries Retry-After. Both services
// answer every failure through it, so the same failure has the same body everywhere.
#pragma once
#include <string_view>

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
  PayloadTooLarge,       // 413
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
  std::string_view slug;  // type is "/problems/<slug>"
  std::string_view title;
  bool retry_after;  // "Retry-After: 1": retrying the same request may succeed
};

const ProblemKind& kind_of(Problem p);
// The problem for a rule of the order the command broke.
Problem problem_for(domain::RejectionCode code);

// application/problem+json: {"type","title","status","detail"} (+ Retry-After when the kind says).
Response problem(Problem p, std::string_view detail);

}  // namespace orders::http
