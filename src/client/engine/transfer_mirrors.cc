// HTTP mirrors that cannot be checked against a manifest (no braid source
// names the content): a mirror serving another file of the same size is
// found by comparing samples of the file across mirrors before the
// transfer starts; the majority wins and the others are left out. Such a
// download resumes when the mirrors still serve the same versions
// (ResumeKey).

#include <algorithm>
#include <map>

#include "client/engine/for_each_parallel.h"
#include "client/engine/transfer.h"
#include "client/http/http_mirror.h"
#include "client/output/resume_state.h"
#include "core/manifest.h"

namespace braid::client {
namespace {

constexpr uint64_t kSampleBytes = 4096;

// [offset, length) at the start, the middle and the end of the file.
std::vector<std::pair<uint64_t, uint64_t>> SampleRanges(uint64_t size) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (size == 0) return out;
  uint64_t len = std::min(kSampleBytes, size);
  for (uint64_t at : {uint64_t{0}, (size - len) / 2, size - len}) {
    if (out.empty() || out.back().first != at) out.push_back({at, len});
  }
  return out;
}

}  // namespace

awaitable<Status> Transfer::CrossCheckMirrors() {
  if (content_id_) co_return Ok{};  // blocks get verified
  std::vector<SourceConn*> mirrors;
  for (SourceConn* s : taking_part_) {
    if (!s->failure && s->mirror()) mirrors.push_back(s);
  }
  if (mirrors.size() < 2) co_return Ok{};
  std::map<SourceConn*, core::Digest> samples;
  auto ranges = SampleRanges(layout_.size);
  co_await ForEachParallel(mirrors, [&](SourceConn& s) -> awaitable<void> {
    core::Sha256Stream hash;
    for (const auto& [offset, length] : ranges) {
      auto bytes =
          co_await s.mirror()->Fetch(offset, length, options_.connect_timeout);
      if (!bytes) {
        s.failure = bytes.error();
        co_return;
      }
      hash.Update(*bytes);
    }
    samples[&s] = hash.Finish();
  });
  if (samples.empty()) {
    co_return MakeError(Errc::kUnavailable,
                        "no mirror answered the sample requests (" +
                            mirrors.front()->failure->ToString() + ")");
  }
  std::map<core::Digest, size_t> votes;
  for (const auto& [s, digest] : samples) ++votes[digest];
  auto best =
      std::max_element(votes.begin(), votes.end(),
                       [](auto& a, auto& b) { return a.second < b.second; });
  if (votes.size() > 1 && 2 * best->second <= samples.size()) {
    co_return MakeError(Errc::kBadData,
                        "mirrors disagree on the content of '" + options_.name +
                            "' (samples of the file differ and no majority "
                            "agrees: add a mirror or a braid source)");
  }
  for (SourceConn* s : mirrors) {
    if (!s->failure && samples[s] != best->first) {
      s->failure = Error{Errc::kBadData,
                         "serves other bytes than the majority of mirrors "
                         "(samples at the start, middle and end differ)"};
    }
    if (s->failure) LeaveOut(*s);
  }
  co_return Ok{};
}

std::string Transfer::ResumeKey() const {
  if (options_.range || live_stream_) return "";
  if (manifest_) return ContentHex();
  if (content_id_) return "";  // named, but its manifest did not come
  // HTTP mirrors alone: a token per mirror and version of the file (URL and
  // validator), so that a later run resumes if one still serves it.
  std::vector<std::string> tokens;
  for (SourceConn* s : taking_part_) {
    HttpMirror* m = s->mirror();
    if (!m || s->failure || m->validator().empty()) continue;
    std::string v =
        std::to_string(layout_.size) + "\n" + s->name() + "\n" + m->validator();
    auto bytes =
        std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size());
    tokens.push_back(std::string(kMirrorKeyPrefix) +
                     core::ToHex(core::Sha256(bytes)));
  }
  std::sort(tokens.begin(), tokens.end());
  std::string key;
  for (const auto& t : tokens) key += (key.empty() ? "" : " ") + t;
  return key;
}

// What the mirrors that took part state as the file's SHA-256: one value
// they all give (those that give one), or nothing.
std::optional<core::Digest> Transfer::StatedSha256() const {
  std::optional<core::Digest> stated;
  for (const SourceConn* s : taking_part_) {
    const HttpMirror* m = s->mirror();
    if (!m || !m->stated_sha256()) continue;
    if (stated && *stated != *m->stated_sha256()) return std::nullopt;
    stated = m->stated_sha256();
  }
  return stated;
}

}  // namespace braid::client
