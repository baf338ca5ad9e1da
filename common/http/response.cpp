#include "common/http/server.hpp"

namespace orders::http {

Response json_response(int status, const nlohmann::json& body) {
  Response res;
  res.status = status;
  res.content_type = "application/json";
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

Response text_response(int status, std::string body, std::string content_type) {
  Response res;
  res.status = status;
  res.content_type = std::move(content_type);
  res.body = std::move(body);
  return res;
}

}  // namespace orders::http
