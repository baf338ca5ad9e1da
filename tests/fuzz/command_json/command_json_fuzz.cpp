// libFuzzer target: any bytes as a command body must yield a command or a ValidationError,
// never a crash, hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/codec/command_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace orders::codec;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_body(body, true);
  if (auto* doc = std::get_if<nlohmann::json>(&parsed)) {
    (void)parse_create_order(*doc);
    (void)parse_add_item(*doc);
    (void)parse_ship_order(*doc);
  }
  return 0;
}
