// Non-blocking HTTP/1.1 client plumbing for the benchmarks' epoll load drivers (keep-alive
// connections on loopback, Content-Length framed answers).
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace orders::testing {

// A non-blocking TCP socket connecting to 127.0.0.1:port (EPOLLOUT tells when it is connected).
inline int connect_nonblocking(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // EINPROGRESS
  return fd;
}

// Appends whatever the socket has to `in`; false when the connection is closed or broken.
inline bool receive_available(int fd, std::string& in) {
  char tmp[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n > 0) {
      in.append(tmp, static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < sizeof tmp) return true;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;
    } else {
      return false;
    }
  }
}

struct WireResponse {
  int status = 0;
  std::string body;
};

// The first complete response in `in`, removed from it; nullopt while it is still incomplete.
inline std::optional<WireResponse> take_response(std::string& in) {
  const std::size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return std::nullopt;
  std::string head = in.substr(0, head_end);
  for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::size_t length = 0;
  if (auto p = head.find("content-length:"); p != std::string::npos) {
    length = static_cast<std::size_t>(std::strtoull(head.c_str() + p + 15, nullptr, 10));
  }
  if (in.size() < head_end + 4 + length) return std::nullopt;
  WireResponse r;
  r.status = in.size() > 12 ? std::atoi(in.c_str() + 9) : 0;
  r.body = in.substr(head_end + 4, length);
  in.erase(0, head_end + 4 + length);
  return r;
}

}  // namespace orders::testing
