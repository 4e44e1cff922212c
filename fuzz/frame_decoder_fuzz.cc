// libFuzzer target: arbitrary bytes, fed in arbitrary pieces, must never
// crash the frame decoder, and every decoded message must re-encode to a
// frame that decodes again.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace braid::core;
  if (size == 0) return 0;
  size_t chunk = 1 + data[0] % 64;
  FrameDecoder decoder(16);
  for (size_t at = 1; at < size; at += chunk) {
    size_t n = std::min(chunk, size - at);
    auto buf = decoder.Prepare(n);
    std::memcpy(buf.data(), data + at, n);
    decoder.Commit(n);
    for (;;) {
      auto m = decoder.Next();
      if (!m) return 0;  // a rejected frame ends the connection
      if (!*m) break;
      std::vector<uint8_t> again;
      Encode(**m, &again);
      FrameDecoder check(again.size());
      auto out = check.Prepare(again.size());
      std::memcpy(out.data(), again.data(), again.size());
      check.Commit(again.size());
      auto back = check.Next();
      if (!back || !*back || TypeOf(**back) != TypeOf(**m)) __builtin_trap();
    }
  }
  return 0;
}
