// libFuzzer target: arbitrary text as a server config must give settings or
// a clear error, never a crash or an exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/server_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto settings = braid::server::ParseServerSettings(text, "fuzz.toml");
  if (settings) (void)braid::server::ResolveServerOptions(*settings, {});
  return 0;
}
