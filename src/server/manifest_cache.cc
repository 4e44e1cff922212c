#include "server/manifest_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace braid::server {

struct ManifestCache::Hashing {
  explicit Hashing(const asio::any_io_executor& ex) : done(ex) {}
  net::Broadcast done;
  std::optional<Result> result;
};

ManifestCache::ManifestCache(uint64_t max_bytes) : max_bytes_(max_bytes) {}

ManifestCache::~ManifestCache() {
  pool_.stop();
  pool_.join();
}

Expected<core::Manifest> ComputeManifest(int fd, uint64_t size,
                                         core::Sha256Stream* whole) {
  std::vector<core::Digest> pieces;
  pieces.reserve(core::Manifest::PieceCount(size));
  std::vector<uint8_t> buf(16 * core::kPieceSize);
  for (uint64_t at = 0; at < size;) {
    size_t want =
        static_cast<size_t>(std::min<uint64_t>(buf.size(), size - at));
    ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || static_cast<size_t>(n) != want) {
      return MakeError(Errc::kIoError,
                       std::string("hashing: ") +
                           (n < 0 ? std::strerror(errno) : "file shrank"));
    }
    if (whole) whole->Update({buf.data(), want});
    for (size_t off = 0; off < want; off += core::kPieceSize) {
      size_t len = std::min<size_t>(core::kPieceSize, want - off);
      pieces.push_back(core::Sha256({buf.data() + off, len}));
    }
    at += want;
  }
  return core::Manifest(size, std::move(pieces));
}

awaitable<ManifestCache::Result> ManifestCache::Get(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0)
    co_return MakeError(Errc::kIoError, "stat for hashing");
  Key key{st.st_dev, st.st_ino, static_cast<uint64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
              st.st_mtim.tv_nsec};
  if (auto it = done_.find(key); it != done_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.used);
    co_return it->second.manifest;
  }
  if (auto it = hashing_.find(key); it != hashing_.end()) {
    // Another request hashes this file: wait for its result.
    std::shared_ptr<Hashing> h = it->second;
    while (!h->result) co_await h->done.Wait(std::chrono::seconds(1));
    co_return *h->result;
  }
  auto h = std::make_shared<Hashing>(co_await asio::this_coro::executor);
  hashing_[key] = h;
  h->result = co_await Compute(key, fd);
  hashing_.erase(key);
  h->done.Notify();
  co_return *h->result;
}

awaitable<ManifestCache::Result> ManifestCache::Compute(const Key& key,
                                                        int fd) {
  uint64_t size = std::get<2>(key);
  ++hashed_;
  // The hashing runs on the pool; this coroutine resumes on the io thread.
  auto computed = co_await asio::co_spawn(
      pool_,
      [fd, size]() -> awaitable<Expected<core::Manifest>> {
        co_return ComputeManifest(fd, size);
      },
      asio::use_awaitable);
  if (!computed) co_return Unexpected{computed.error()};
  auto manifest = std::make_shared<const core::Manifest>(std::move(*computed));
  Keep(key, manifest);
  co_return manifest;
}

uint64_t ManifestCache::Cost(const core::Manifest& m) {
  return m.piece_count() * sizeof(core::Digest) + kEntryOverhead;
}

void ManifestCache::Keep(const Key& key,
                         std::shared_ptr<const core::Manifest> manifest) {
  bytes_ += Cost(*manifest);
  lru_.push_front(key);
  done_[key] = {std::move(manifest), lru_.begin()};
  // Evict the least recently used (never the one just added).
  while (bytes_ > max_bytes_ && lru_.size() > 1) {
    auto it = done_.find(lru_.back());
    bytes_ -= Cost(*it->second.manifest);
    done_.erase(it);
    lru_.pop_back();
  }
}

}  // namespace braid::server
