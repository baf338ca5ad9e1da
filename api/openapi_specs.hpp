// Each service's OpenAPI 3.1 description as JSON, bundled from api/<service>.yaml and
// api/common.yaml at build time (api/bundle.py) and served at GET /openapi.json.
#pragma once
#include <string_view>

namespace orders::api {

std::string_view write_side_openapi_json();
std::string_view read_side_openapi_json();

}  // namespace orders::api
