#include <pqxx/pqxx>

#include "common/http/server.hpp"
#include "common/pg/pool.hpp"

namespace orders::http {

Response json_response(int status, const nlohmann::json& body) {
  Response res;
  res.status = status;
  res.content_type = "application/json";
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

Response problem(int status, std::string_view slug, std::string_view title,
                 std::string_view detail) {
  nlohmann::json body = {{"type", "/problems/" + std::string(slug)},
                         {"title", std::string(title)},
                         {"status", status},
                         {"detail", std::string(detail)}};
  Response res = json_response(status, body);
  res.content_type = "application/problem+json";
  return res;
}

Response text_response(int status, std::string body, std::string content_type) {
  Response res;
  res.status = status;
  res.content_type = std::move(content_type);
  res.body = std::move(body);
  return res;
}

bool is_transient_failure(const std::exception_ptr& error) {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const pg::PoolExhausted&) {
    return true;
  } catch (const pqxx::broken_connection&) {
    return true;
  } catch (const pqxx::serialization_failure&) {
    return true;
  } catch (const pqxx::deadlock_detected&) {
    return true;
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    const std::string cls = state.substr(0, 2);
    return cls == "08" || cls == "53" || cls == "57" || state == "40001" || state == "40P01";
  } catch (...) {
    return false;
  }
}

}  // namespace orders::http
