// The Date header (RFC 9110 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT").
#pragma once
#include <ctime>
#include <string>

namespace orders::http {

std::string format_http_date(std::time_t t);
// Now, formatted once per second per thread (every response carries it).
const std::string& http_date_now();

}  // namespace orders::http
