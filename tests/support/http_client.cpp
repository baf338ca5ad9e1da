// Blocking HTTP/1.1 client for tests (Boost.Beast). Each call runs async operations on a private
// io_context so every step has a deadline; one keep-alive connection, reconnected once when the
// server closed it between requests.
#include <cctype>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "tests/support/services.hpp"

namespace orders::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpClient::Impl {
  std::string host;
  int port;
  std::chrono::milliseconds timeout{60000};
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  Impl(std::string h, int p) : host(std::move(h)), port(p) {}

  // Runs queued async work to completion.
  void run() {
    ioc.restart();
    ioc.run();
  }

  void close() {
    if (stream) {
      beast::error_code ec;
      stream->socket().shutdown(tcp::socket::shutdown_both, ec);
      stream->socket().close(ec);
      stream.reset();
    }
    buffer.clear();
  }

  beast::error_code connect(beast::tcp_stream& s) {
    beast::error_code result;
    tcp::endpoint ep(asio::ip::make_address(host), static_cast<unsigned short>(port));
    s.expires_after(timeout);
    s.async_connect(ep, [&](beast::error_code ec) { result = ec; });
    run();
    if (!result) s.socket().set_option(tcp::no_delay(true), result);
    return result;
  }

  bool ensure_connected() {
    if (stream) return true;
    stream.emplace(ioc);
    if (connect(*stream)) {
      close();
      return false;
    }
    return true;
  }

  // One attempt on the current connection. `sent` tells whether the request was written.
  HttpResult attempt(http::request<http::string_body>& req, bool& sent, beast::error_code& err) {
    HttpResult out;
    sent = false;
    stream->expires_after(timeout);
    http::async_write(*stream, req, [&](beast::error_code ec, std::size_t) { err = ec; });
    run();
    if (err) return out;
    sent = true;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    parser.header_limit(1024 * 1024);
    if (req.method() == http::verb::head) parser.skip(true);
    stream->expires_after(timeout);
    http::async_read(*stream, buffer, parser, [&](beast::error_code ec, std::size_t) { err = ec; });
    run();
    if (err) return out;
    auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value(field.value());
      auto [it, inserted] = out.headers.emplace(name, value);
      if (!inserted) it->second += ", " + value;
    }
    if (!res.keep_alive()) close();
    return out;
  }
};

HttpClient::HttpClient(std::string host, int port)
    : impl_(std::make_unique<Impl>(std::move(host), port)) {}

HttpClient::~HttpClient() = default;

void HttpClient::set_timeout(std::chrono::milliseconds timeout) {
  impl_->timeout = timeout;
}

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  Impl& m = *impl_;
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, m.host + ":" + std::to_string(m.port));
  req.keep_alive(true);
  bool has_content_type = false;
  for (const auto& [name, value] : headers) {
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "content-type") has_content_type = true;
    req.set(name, value);
  }
  if (!body.empty() && !has_content_type) req.set(http::field::content_type, "application/json");
  req.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.prepare_payload();
  }

  for (int round = 0; round < 2; ++round) {
    bool reused = m.stream.has_value();
    if (!m.ensure_connected()) return HttpResult{};
    bool sent = false;
    beast::error_code err;
    HttpResult out = m.attempt(req, sent, err);
    if (!err) return out;
    m.close();
    // Only a reused keep-alive connection that the server closed is retried: a fresh connection
    // failing, or a time-out, is reported as status 0.
    bool closed_by_peer = err == http::error::end_of_stream || err == asio::error::eof ||
                          err == asio::error::connection_reset || err == asio::error::broken_pipe ||
                          err == http::error::partial_message;
    if (!reused || !closed_by_peer) return HttpResult{};
  }
  return HttpResult{};
}

std::string HttpClient::raw(const std::string& bytes, std::chrono::milliseconds timeout) {
  Impl& m = *impl_;
  beast::tcp_stream s(m.ioc);
  auto saved = m.timeout;
  m.timeout = timeout;
  beast::error_code ec = m.connect(s);
  m.timeout = saved;
  if (ec) return "";
  std::string received;
  s.expires_after(timeout);
  asio::async_write(s, asio::buffer(bytes), [&](beast::error_code e, std::size_t) { ec = e; });
  m.run();
  // Read even when the write failed part-way: the server may have answered and closed.
  std::array<char, 8192> chunk{};
  std::function<void(beast::error_code, std::size_t)> on_read = [&](beast::error_code e,
                                                                    std::size_t n) {
    received.append(chunk.data(), n);
    if (!e) s.async_read_some(asio::buffer(chunk), on_read);
  };
  s.async_read_some(asio::buffer(chunk), on_read);
  m.run();
  beast::error_code ignored;
  s.socket().close(ignored);
  return received;
}

}  // namespace orders::testing
