#include "read-side/read_your_writes/applied_payload.hpp"

#include <charconv>
#include <random>

namespace orders::read_side {

std::vector<std::string> encode_applied(const std::string& token,
                                        const std::unordered_map<std::string, std::int64_t>& orders,
                                        bool all) {
  std::vector<std::string> out;
  const std::string head = token + "\n";
  if (all) {
    out.push_back(head + "*\n");
    return out;
  }
  std::string cur = head;
  for (const auto& [id, version] : orders) {
    std::string line = id + " " + std::to_string(version) + "\n";
    if (cur.size() + line.size() > kMaxAppliedPayload && cur.size() > head.size()) {
      out.push_back(std::move(cur));
      cur = head;
    }
    cur += line;
  }
  if (cur.size() > head.size()) out.push_back(std::move(cur));
  return out;
}

std::optional<AppliedPayload> decode_applied(std::string_view payload) {
  auto nl = payload.find('\n');
  if (nl == std::string_view::npos || nl == 0) return std::nullopt;
  AppliedPayload p;
  p.token = std::string(payload.substr(0, nl));
  payload.remove_prefix(nl + 1);
  if (payload == "*\n") {
    p.all = true;
    return p;
  }
  while (!payload.empty()) {
    nl = payload.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    auto line = payload.substr(0, nl);
    payload.remove_prefix(nl + 1);
    auto sp = line.rfind(' ');
    if (sp == std::string_view::npos || sp == 0) return std::nullopt;
    std::int64_t v = 0;
    auto digits = line.substr(sp + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc{} || ptr != digits.data() + digits.size()) return std::nullopt;
    p.orders.push_back(AppliedVersion{std::string(line.substr(0, sp)), v});
  }
  if (p.orders.empty()) return std::nullopt;
  return p;
}

std::string make_replica_token() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  const auto v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^ dist(rd);
  char buf[17] = {};
  auto [ptr, ec] = std::to_chars(buf, buf + 16, v, 16);
  return std::string(buf, ptr);
}

}  // namespace orders::read_side
