// libFuzzer target for the parsers of untrusted text and answers not covered
// elsewhere; the first byte picks one:
//   0  the proxy's Range header (against a size from the next 8 bytes)
//   1  HOST:PORT, rates and sizes (flags, config, director answers)
//   2  the resume state file
//   3  a SIGNATURE frame, checked as a client with no matching key would
//   4  a director's SOURCES answer: its addresses parsed, and the holders a
//      client would choose, with and without a content id of its own
//   5  an access token (as a server checks it, and as the proxy finds it in
//      an Authorization field); a valid scope makes a token that checks
//   6  a director's registration token file, and a server's
//   7  a Metalink document: what parses gives a manifest only when its
//      pieces fit the size
//   8  an answer of etcd (a director's shared catalog): every reader of
//      etcd_json, and a part of a server's table, whose entries encode and
//      decode to themselves
// (frame_decoder_fuzz covers the decoding of every frame.)
// Each must parse or give a clear error, never crash or throw, and what
// parses must be consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "client/engine/signatures.h"
#include "client/output/resume_state.h"
#include "client/sources/metalink.h"
#include "client/sources/source_choice.h"
#include "core/access_token.h"
#include "core/protocol.h"
#include "core/register_token.h"
#include "core/units.h"
#include "director/catalog_parts.h"
#include "director/etcd_json.h"
#include "proxy/http_range.h"
#include "proxy/request_token.h"

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

void CheckChoice(const Expected<client::Choice>& c) {
  if (!c) return;
  if (c->sources.empty()) std::abort();
  for (const auto& s : c->sources)
    if (s.content_id != c->content_id) std::abort();
}

void DirectorAnswer(std::span<const uint8_t> body) {
  auto m =
      core::DecodeBody(static_cast<uint8_t>(core::FrameType::kSources), body);
  if (!m) return;
  const auto& answer = std::get<core::Sources>(*m);
  for (const auto& s : answer.sources) Units(s.server);
  CheckChoice(client::ChooseSources(answer, std::nullopt));
  if (!answer.sources.empty())
    CheckChoice(client::ChooseSources(answer, answer.sources[0].content_id));
}

void AccessToken(std::string_view text) {
  static const core::AccessKey key =
      *core::AccessKey::FromHex(std::string(64, 'a'), "fuzz");
  const core::UnixTime now(std::chrono::seconds(1000));
  auto s = core::CheckAccessToken(key, text, "a/b", now);
  if (!s && s.error().code != Errc::kForbidden) std::abort();
  (void)proxy::RequestToken("", text);
  if (!core::CheckScope(text)) return;
  std::string scope(text);
  std::string name = scope == core::kEveryName ? "x"
                     : scope.back() == '/'     ? scope + "x"
                                               : scope;
  auto token =
      core::MakeAccessToken(key, {scope, now + std::chrono::seconds(1)});
  if (token.size() > core::kMaxAccessTokenLen) std::abort();
  if (!core::CheckAccessToken(key, token, name, now)) std::abort();
}

void MetalinkDocument(std::string_view text) {
  auto m = client::ParseMetalink(text);
  if (!m) return;
  if (m->name.empty() || m->name.find('/') != std::string::npos) std::abort();
  if (auto manifest = client::ManifestOf(*m)) {
    if (manifest->size() != *m->size) std::abort();
    (void)client::WriteMetalink(m->name, *manifest, manifest->ContentId(),
                                m->urls);
  }
}

void RegisterTokenFiles(std::string_view text) {
  auto tokens = core::RegisterTokens::Parse(text, "fuzz");
  if (tokens && tokens->size() == 0) std::abort();
  if (auto one = core::ParseRegisterToken(text, "fuzz")) {
    if (tokens && !tokens->Check(*one)) std::abort();
  }
}

void EtcdAnswer(std::string_view text) {
  namespace etcd = director::etcd;
  (void)etcd::ParseRange(text);
  (void)etcd::ParseWriteRevision(text);
  (void)etcd::ParseLeaseGrant(text);
  (void)etcd::ParseKeepAlive(text);
  (void)etcd::ParseKeepAlives(text);
  (void)etcd::ParseWatchLine(text);
  size_t bad = 0;
  auto entries = director::DecodeCatalogPart(text, &bad);
  auto parts = director::EncodeCatalogParts(entries, 1u << 20);
  if (parts.size() != 1) std::abort();
  size_t again_bad = 0;
  if (director::DecodeCatalogPart(parts[0], &again_bad) != entries ||
      again_bad != 0)
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const uint8_t> in(data + 1, size - 1);
  std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
  switch (data[0] % 9) {
    case 0:
      Range(in);
      break;
    case 1:
      Units(text);
      break;
    case 2:
      (void)client::ParseResumeState(text, "fuzz.braid-state");
      break;
    case 3:
      Signature(in);
      break;
    case 4:
      DirectorAnswer(in);
      break;
    case 5:
      AccessToken(text);
      break;
    case 6:
      RegisterTokenFiles(text);
      break;
    case 7:
      MetalinkDocument(text);
      break;
    default:
      EtcdAnswer(text);
  }
  return 0;
}
