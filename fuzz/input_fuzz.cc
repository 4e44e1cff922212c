// libFuzzer target for the parsers of untrusted text and answers not covered
// elsewhere; the first byte picks one:
//   0  the proxy's Range header (against a size from the next 8 bytes)
//   1  HOST:PORT, rates and sizes (flags, config, director answers)
//   2  the resume state file
//   3  a SIGNATURE frame, checked as a client with no matching key would
// (Director answers are frames: frame_decoder_fuzz covers them.)
// Each must parse or give a clear error, never crash or throw, and what
// parses must be consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "client/resume_state.h"
#include "client/signatures.h"
#include "core/protocol.h"
#include "core/units.h"
#include "proxy/http_range.h"

namespace {

using namespace braid;

void Range(std::span<const uint8_t> in) {
  if (in.size() < 8) return;
  uint64_t size = 0;
  for (int i = 0; i < 8; ++i) size = size << 8 | in[i];
  size >>= 1;  // sizes below 2^63
  std::string_view text(reinterpret_cast<const char*>(in.data() + 8),
                        in.size() - 8);
  auto r = proxy::ResolveRange(text, size);
  if (r.kind == proxy::RangeRequest::Kind::kPartial &&
      (r.range.length == 0 || r.range.end() > size))
    std::abort();
}

void Units(std::string_view text) {
  if (auto hp = core::ParseHostPort(text)) {
    if (hp->host.empty() || hp->port == 0) std::abort();
    if (!core::ParseHostPort(hp->ToString())) std::abort();
  }
  (void)core::ParseRate(text);
  (void)core::ParseSize(text);
}

void Signature(std::span<const uint8_t> body) {
  auto m =
      core::DecodeBody(static_cast<uint8_t>(core::FrameType::kSignature), body);
  if (!m) return;
  const auto& sig = std::get<core::SignatureMsg>(*m);
  core::Opened opened{sig.statement.size, 65536, 1, sig.statement.content_id};
  if (client::CheckSignature({}, sig.statement.name, opened, sig)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const uint8_t> in(data + 1, size - 1);
  std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
  switch (data[0] % 4) {
    case 0:
      Range(in);
      break;
    case 1:
      Units(text);
      break;
    case 2:
      (void)client::ParseResumeState(text, "fuzz.braid-state");
      break;
    default:
      Signature(in);
  }
  return 0;
}
