// Manifests of the files a server serves, computed on a hashing thread (so
// the network thread never blocks on disk) and kept while the file is
// unchanged (same device, inode, size and modification time).
#ifndef BRAID_SERVER_MANIFEST_CACHE_H_
#define BRAID_SERVER_MANIFEST_CACHE_H_

#include <list>
#include <map>
#include <memory>
#include <tuple>

#include "core/manifest.h"
#include "net/asio_util.h"

namespace braid::server {

class ManifestCache {
 public:
  // Manifests kept, counted in digest bytes (32 per 64 KiB piece) plus
  // kEntryOverhead each; the least recently used go first.
  static constexpr uint64_t kDefaultMaxBytes = uint64_t{256} << 20;
  static constexpr uint64_t kEntryOverhead = 256;

  explicit ManifestCache(uint64_t max_bytes = kDefaultMaxBytes);
  ~ManifestCache();

  // The manifest of the open regular file fd. Concurrent calls for one
  // file hash it once. REQUIRES: io thread.
  awaitable<Expected<std::shared_ptr<const core::Manifest>>> Get(int fd);

  // Manifests held, and files hashed so far (for tests).
  size_t cached() const { return done_.size(); }
  uint64_t hashed() const { return hashed_; }

 private:
  using Key = std::tuple<uint64_t, uint64_t, uint64_t,
                         int64_t>;  // dev, ino, size, mtime
  using Result = Expected<std::shared_ptr<const core::Manifest>>;
  struct Entry {
    std::shared_ptr<const core::Manifest> manifest;
    std::list<Key>::iterator used;  // its place in lru_
  };
  struct Hashing;  // a file being hashed, and who waits for it

  awaitable<Result> Compute(const Key& key, int fd);
  void Keep(const Key& key, std::shared_ptr<const core::Manifest> manifest);
  static uint64_t Cost(const core::Manifest& m);

  asio::thread_pool pool_{1};
  const uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  uint64_t hashed_ = 0;
  std::map<Key, Entry> done_;
  std::list<Key> lru_;  // most recently used first
  std::map<Key, std::shared_ptr<Hashing>> hashing_;
};

// Hashes a whole file into its manifest (blocking; for the hashing thread).
// With `whole`, the same read also feeds the whole file's SHA-256.
Expected<core::Manifest> ComputeManifest(int fd, uint64_t size,
                                         core::Sha256Stream* whole = nullptr);

}  // namespace braid::server

#endif  // BRAID_SERVER_MANIFEST_CACHE_H_
