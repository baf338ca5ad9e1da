// JetStream stream management on one Connection: create or update the stream, read its state and
// stored messages, delete streams and consumers (tests, admin).
//
//   nats::StreamAdmin admin(conn);
//   nats::StreamSpec spec;  spec.name = "ORDERS";   // subjects: codec::stream_subject_filter
//   auto info = admin.ensure_stream(spec);
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/nats/connection.hpp"
#include "common/nats/message.hpp"

typedef struct __jsCtx jsCtx;

namespace orders::nats {

struct StreamSpec {
  std::string name = "ORDERS";
  std::vector<std::string> subjects;  // empty: {codec::stream_subject_filter(name)}
  bool file_storage = true;
  std::chrono::milliseconds duplicate_window{std::chrono::minutes(2)};
  std::int64_t replicas = 1;
  // Retention: messages older than max_age, or the oldest beyond max_bytes, are dropped by the
  // server (0 / -1: unlimited). A duplicate window longer than max_age is cut to max_age.
  std::chrono::milliseconds max_age{0};
  std::int64_t max_bytes = -1;
};

struct StreamInfo {
  std::string name;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;  // 0 when empty
  std::uint64_t msgs = 0;
  std::uint64_t bytes = 0;
  std::int64_t consumers = 0;
  std::vector<std::string> subjects;              // as configured
  std::chrono::milliseconds duplicate_window{0};  // as configured
  std::chrono::milliseconds max_age{0};           // as configured (0: unlimited)
  std::int64_t max_bytes = -1;                    // as configured (-1: unlimited)
};

class StreamAdmin {
 public:
  explicit StreamAdmin(Connection& conn,
                       std::chrono::milliseconds api_timeout = std::chrono::seconds(5));
  StreamAdmin(StreamAdmin&&) noexcept;
  StreamAdmin& operator=(StreamAdmin&&) noexcept;
  ~StreamAdmin();

  // Creates the stream, or updates it when its subjects / duplicate window / storage / replicas /
  // retention limits differ.
  StreamInfo ensure_stream(const StreamSpec& spec);
  std::optional<StreamInfo> stream_info(const std::string& stream);  // nullopt when not found
  void delete_stream(const std::string& stream);                     // no error when missing
  void delete_consumer(const std::string& stream, const std::string& consumer);  // likewise
  // The stored message at a stream sequence (direct read, no consumer); nullopt when none.
  std::optional<Message> get_message(const std::string& stream, std::uint64_t seq);

  jsCtx* raw() const { return js_; }

 private:
  jsCtx* js_ = nullptr;
  std::chrono::milliseconds api_timeout_;
};

}  // namespace orders::nats
