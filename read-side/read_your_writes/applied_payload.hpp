// The NOTIFY payload by which a read-side replica tells the others which orders a committed batch
// brought to which version (read-your-writes across replicas).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "read-side/read_your_writes/version_waiters.hpp"

namespace orders::read_side {

inline constexpr const char* kAppliedChannel = "read_side_applied";

// Payload: "<token>\n" then one "<order_id> <version>\n" per order, or "<token>\n*\n" (wake all).
// Postgres limits a payload to 8000 bytes: longer lists are split over several notifications.
inline constexpr std::size_t kMaxAppliedPayload = 7000;
struct AppliedPayload {
  std::string token;
  bool all = false;                    // wake every waiter
  std::vector<AppliedVersion> orders;  // otherwise: these
};
std::vector<std::string> encode_applied(const std::string& token,
                                        const std::unordered_map<std::string, std::int64_t>& orders,
                                        bool all);
// nullopt: not a payload of this format (e.g. empty): the caller wakes all.
std::optional<AppliedPayload> decode_applied(std::string_view payload);

// A random token naming this process's notifications.
std::string make_replica_token();

}  // namespace orders::read_side
