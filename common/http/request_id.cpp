#include "common/http/request_id.hpp"

#include <cstdio>
#include <random>

#include "common/http/server.hpp"

namespace orders::http {

RequestIds::RequestIds() {
  std::random_device rd;
  char buf[24];
  std::snprintf(buf, sizeof buf, "%08x%04x", rd(), rd() & 0xffffu);
  prefix_ = buf;
}

std::string RequestIds::next() {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s-%08llx", prefix_.c_str(),
                static_cast<unsigned long long>(counter_.fetch_add(1) + 1));
  return buf;
}

bool sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

}  // namespace orders::http
