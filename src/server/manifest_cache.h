// Manifests of the files a server serves, computed on a hashing thread (so
// the network thread never blocks on disk) and kept while the file is
// unchanged (same device, inode, size and modification time).
#ifndef BRAID_SERVER_MANIFEST_CACHE_H_
#define BRAID_SERVER_MANIFEST_CACHE_H_

#include <map>
#include <memory>
#include <tuple>

#include "core/manifest.h"
#include "net/asio_util.h"

namespace braid::server {

class ManifestCache {
 public:
  ManifestCache();
  ~ManifestCache();

  // The manifest of the open regular file fd. REQUIRES: io thread.
  awaitable<Expected<std::shared_ptr<const core::Manifest>>> Get(int fd);

 private:
  using Key = std::tuple<uint64_t, uint64_t, uint64_t,
                         int64_t>;  // dev, ino, size, mtime
  asio::thread_pool pool_{1};
  std::map<Key, std::shared_ptr<const core::Manifest>> done_;
};

// Hashes a whole file into its manifest (blocking; for the hashing thread).
Expected<core::Manifest> ComputeManifest(int fd, uint64_t size);

}  // namespace braid::server

#endif  // BRAID_SERVER_MANIFEST_CACHE_H_
