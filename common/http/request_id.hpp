// Request ids: a client's X-Request-Id is kept when sane, else the server makes one (a random
// per-process prefix and a counter: unique without a random draw per request).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace orders::http {

class RequestIds {
 public:
  RequestIds();
  std::string next();

 private:
  std::string prefix_;
  std::atomic<std::uint64_t> counter_{0};
};

}  // namespace orders::http
