// Metalinks (RFC 5854) of a content root's files, written where web
// mirrors of the root can publish them (`braid serve --metalinks DIR`): any
// client that reads piece hashes, braid included, then checks each block
// of a plain web mirror.
#ifndef BRAID_CLI_METALINK_PUBLISHER_H_
#define BRAID_CLI_METALINK_PUBLISHER_H_

#include <braid/expected.h>

#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "core/manifest.h"

namespace braid::cli {

// A file's 64 KiB piece hashes and its whole SHA-256, in one read.
Expected<std::pair<core::Manifest, core::Digest>> HashFile(
    const std::string& path);

// The URL of the root's file `name` ("a/b c.iso") on a mirror whose copy of
// the root is at `base`: base, a '/', and the name percent-encoded.
std::string MirrorUrl(const std::string& base, const std::string& name);

// Keeps DIR/NAME.meta4 for every file NAME of the root (files named
// *.meta4 left out, so DIR may be the root itself): its size, SHA-256, the
// SHA-256 of each 64 KiB piece and its URL on each mirror base. Hashes on
// its own thread; documents are replaced whole (rename), those of files
// gone are removed (only documents braid wrote).
class MetalinkPublisher {
 public:
  MetalinkPublisher(std::filesystem::path root, std::filesystem::path dir,
                    std::vector<std::string> mirror_bases);
  // Stops the worker (a file being hashed is finished first, no other).
  ~MetalinkPublisher();
  MetalinkPublisher(const MetalinkPublisher&) = delete;
  MetalinkPublisher& operator=(const MetalinkPublisher&) = delete;

  // Any thread: the root changed (or was never published): bring DIR up
  // to date on the worker soon.
  void Changed();
  // Brings DIR up to date now, blocking; the documents written. For the
  // worker, and tests (without Changed()).
  Expected<size_t> PublishNow();

 private:
  using Stamp = std::tuple<uint64_t, uint64_t, int64_t>;  // ino, size, mtime
  void Work();
  bool Stopping();
  Status Write(const std::string& name, const std::string& doc) const;
  void RemoveStale(const std::vector<std::string>& names);

  const std::filesystem::path root_, dir_;
  const std::vector<std::string> bases_;
  std::map<std::string, Stamp> published_;  // the worker's
  std::mutex mu_;
  std::condition_variable wake_;
  bool dirty_ = false, stopping_ = false;
  std::thread worker_;  // last: started once the rest is set
};

}  // namespace braid::cli

#endif  // BRAID_CLI_METALINK_PUBLISHER_H_
