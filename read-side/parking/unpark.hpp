// `read-side unpark ORDER_ID`: applies an order's parked events (read again from the event
// store, so a repaired row or a new upcaster takes effect) in global order, exactly once, then
// deletes them: the order is live again. One transaction under the cutover lock EXCLUSIVE (the
// live projector's applies and parkings take it shared), so no apply or parking of the order
// interleaves; a version the view already has is skipped as a duplicate.
#pragma once
#include <cstdint>
#include <string>

namespace orders::read_side::parking {

struct UnparkOutcome {
  enum class Kind { Applied, NotParked, StillFailing } kind = Kind::NotParked;
  std::int64_t parked = 0;   // parked events of the order
  std::int64_t applied = 0;  // events applied (gap fills included; duplicates not)
  std::int64_t version = 0;  // the order's version in the read model afterwards
  std::string error;         // StillFailing: why (the events stay parked, attempts + 1)
};

// Throws on database errors (nothing changed then).
UnparkOutcome unpark_order(const std::string& database_url, const std::string& order_id);

}  // namespace orders::read_side::parking
