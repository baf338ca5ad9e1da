#include "common/console/console_routes.hpp"

#include <nlohmann/json.hpp>

#include "common/console/console_assets.hpp"
#include "common/http/problem.hpp"

namespace orders::console {
namespace {

std::string content_type_of(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  return "application/json";
}

// Defence in depth behind the page's own escaping: no inline script or handler runs, and the page
// talks only to the two services. The origins were validated as scheme://host:port at start.
std::string content_security_policy(const ConsoleOptions& o) {
  std::string connect = "'self'";
  for (const auto* url : {&o.write_url, &o.read_url}) {
    if (!url->empty()) connect += " " + *url;
  }
  return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
         "connect-src " +
         connect + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}

http::Response page(std::string_view name, std::string body, const ConsoleOptions& o) {
  http::Response res = http::text_response(200, std::move(body), content_type_of(name));
  res.headers = {{"Content-Security-Policy", content_security_policy(o)},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Referrer-Policy", "no-referrer"},
                 {"Cache-Control", "no-cache"}};
  return res;
}

std::string config_json(const ConsoleOptions& o) {
  return nlohmann::json{
      {"service", o.service}, {"write_url", o.write_url}, {"read_url", o.read_url}}
      .dump();
}

}  // namespace

void add_console_routes(http::Router& router, const ConsoleOptions& options) {
  router.add(
      "GET", "/ui",
      [options](const http::Request&) {
        for (const auto& a : assets()) {
          if (a.name == "index.html") return page(a.name, std::string(a.body), options);
        }
        return http::problem(http::Problem::NotFound, "the console is not built in");
      },
      "public");
  router.add(
      "GET", "/ui/{asset}",
      [options](const http::Request& req) {
        const auto& name = req.path_params.at("asset");
        if (name == "config.json") return page(name, config_json(options), options);
        for (const auto& a : assets()) {
          if (a.name == name) return page(a.name, std::string(a.body), options);
        }
        return http::problem(http::Problem::NotFound, "no console file " + name);
      },
      "public");
}

}  // namespace orders::console
