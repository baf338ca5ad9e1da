#include "common/http/problem.hpp"

#include <array>
#include <string>

#include <nlohmann/json.hpp>

namespace orders::http {

namespace {

constexpr std::array kKinds = {
    ProblemKind{400, "invalid-request", "Invalid request", false},
    ProblemKind{401, "unauthorized", "Unauthorized", false},
    ProblemKind{403, "forbidden", "Forbidden", false},
    ProblemKind{404, "not-found", "Not found", false},
    ProblemKind{404, "order-not-found", "Order not found", false},
    ProblemKind{404, "item-not-in-order", "Item not in order", false},
    ProblemKind{404, "customer-not-found", "Customer not found", false},
    ProblemKind{405, "method-not-allowed", "Method not allowed", false},
    ProblemKind{409, "order-already-exists", "Order already exists", false},
    ProblemKind{409, "order-not-draft", "Order is not a draft", false},
    ProblemKind{409, "order-has-no-items", "Order has no items", false},
    ProblemKind{409, "order-not-confirmed", "Order is not confirmed", false},
    ProblemKind{409, "order-not-shipped", "Order is not shipped", false},
    ProblemKind{409, "price-mismatch", "Price differs from the order's", false},
    ProblemKind{409, "quantity-too-large", "Quantity too large", false},
    ProblemKind{409, "order-total-too-large", "Order total too large", false},
    ProblemKind{409, "too-many-lines", "Too many lines in the order", false},
    ProblemKind{412, "version-mismatch", "Version mismatch", false},
    ProblemKind{413, "payload-too-large", "Payload too large", false},
    ProblemKind{422, "idempotency-key-reused", "Idempotency-Key reused", false},
    ProblemKind{431, "header-too-large", "Request header fields too large", false},
    ProblemKind{500, "internal", "Internal error", false},
    ProblemKind{503, "unavailable", "Service unavailable", true},
    ProblemKind{503, "overloaded", "Too many connections", true},
    ProblemKind{503, "timeout", "Request took too long", true},
    ProblemKind{503, "not-yet-visible", "Not yet visible", true},
    ProblemKind{503, "not-ready", "Not ready", true},
};
static_assert(kKinds.size() == static_cast<std::size_t>(Problem::NotReady) + 1,
              "one row per Problem, in declaration order");

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

Response problem(Problem p, std::string_view detail) {
  const ProblemKind& k = kind_of(p);
  nlohmann::json body = {{"type", "/problems/" + std::string(k.slug)},
                         {"title", std::string(k.title)},
                         {"status", k.status},
                         {"detail", std::string(detail)}};
  Response res = json_response(k.status, body);
  res.content_type = "application/problem+json";
  if (k.retry_after) res.headers.emplace_back("Retry-After", "1");
  return res;
}

}  // namespace orders::http
