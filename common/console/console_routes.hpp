// The web console (docs/operations.md#web-console): GET /ui is the page, GET /ui/{asset} its
// script, style sheet and config.json (which tells the page where each service is). Public
// routes: the page holds no data; it reads the APIs with the token a person types in.
#pragma once
#include <string>

#include "common/http/server.hpp"

namespace orders::console {

struct ConsoleOptions {
  std::string service;    // "write-side" or "read-side": the one serving the page
  std::string write_url;  // the write-side's origin as the browser reaches it; "": this origin
  std::string read_url;   // the read-side's origin; "": this origin
};

void add_console_routes(http::Router& router, const ConsoleOptions& options);

}  // namespace orders::console
