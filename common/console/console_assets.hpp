// The web console's static files (common/console/*.html, *.js, *.css), embedded at build time by
// common/console/embed.py.
#pragma once
#include <span>
#include <string_view>

namespace orders::console {

struct Asset {
  std::string_view name;  // base name: "index.html", "console.js", ...
  std::string_view body;
};

std::span<const Asset> assets();

}  // namespace orders::console
