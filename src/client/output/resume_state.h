// The state file beside a partial download (<out>.braid-state): which
// blocks of <out>.braid-part are written, verified and on disk. Saved with
// the data synced first and the state replaced atomically, so after a crash
// or power cut it never names a block that is not on disk.
//
// Format: JSON {"version":1,"content_id":"<64 hex>","size":N,
//               "block_size":N,"have":[[first,end],...]}
#ifndef BRAID_CLIENT_OUTPUT_RESUME_STATE_H_
#define BRAID_CLIENT_OUTPUT_RESUME_STATE_H_

#include <braid/expected.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/reassembly.h"

namespace braid::client {

struct ResumeState {
  // The content id in hex, or for HTTP mirrors alone a token per mirror
  // and version (Transfer::ResumeKey, SameResumeKey).
  std::string content_id;
  uint64_t size = 0;
  uint32_t block_size = 0;
  std::vector<std::pair<uint64_t, uint64_t>> have;  // block ranges [first, end)

  // The ranges of blocks marked in `set`.
  static std::vector<std::pair<uint64_t, uint64_t>> RangesOf(
      const core::ReceivedSet& set);
};

// kNotFound if there is no state file; kMalformed if it cannot be parsed.
Expected<ResumeState> LoadResumeState(const std::string& path);

// A key made of HTTP mirrors' versions starts its tokens with this.
inline constexpr std::string_view kMirrorKeyPrefix = "mirror-";
// Whether a saved state's key names what a new run fetches: the same
// content id; or, from HTTP mirrors alone (space-separated tokens, one per
// mirror and version of the file), one mirror still serving the version it
// served then.
bool SameResumeKey(const std::string& saved, const std::string& now);
// The state file's text; `origin` names it in errors. Never throws.
Expected<ResumeState> ParseResumeState(std::string_view text,
                                       const std::string& origin);

// Writes path.tmp, fsyncs it, renames it over path and fsyncs the directory.
Status SaveResumeState(const std::string& path, const ResumeState& state);

}  // namespace braid::client

#endif  // BRAID_CLIENT_OUTPUT_RESUME_STATE_H_
