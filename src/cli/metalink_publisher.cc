#include "cli/metalink_publisher.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "client/sources/metalink.h"
#include "server/content_root.h"
#include "server/manifest_cache.h"

namespace braid::cli {
namespace fs = std::filesystem;
namespace {

constexpr char kSuffix[] = ".meta4";

bool IsDocumentName(std::string_view name) { return name.ends_with(kSuffix); }

// Whether the file at path is a Metalink braid wrote (its generator).
bool WrittenByBraid(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return head.find(std::string("<generator>") + client::kMetalinkGenerator +
                   "</generator>") != std::string::npos;
}

}  // namespace

Expected<std::pair<core::Manifest, core::Digest>> HashFile(
    const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return MakeError(Errc::kIoError, path + ": " + why);
  }
  core::Sha256Stream whole;
  auto manifest =
      server::ComputeManifest(fd, static_cast<uint64_t>(st.st_size), &whole);
  ::close(fd);
  if (!manifest)
    return MakeError(Errc::kIoError, path + ": " + manifest.error().what);
  return std::pair{std::move(*manifest), whole.Finish()};
}

std::string MirrorUrl(const std::string& base, const std::string& name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string url = base;
  if (url.empty() || url.back() != '/') url += '/';
  for (unsigned char c : name) {
    if (std::isalnum(c) || std::strchr("-._~/", c)) {
      url += static_cast<char>(c);
    } else {
      url += '%';
      url += kHex[c >> 4];
      url += kHex[c & 15];
    }
  }
  return url;
}

MetalinkPublisher::MetalinkPublisher(fs::path root, fs::path dir,
                                     std::vector<std::string> mirror_bases)
    : root_(std::move(root)),
      dir_(std::move(dir)),
      bases_(std::move(mirror_bases)),
      worker_([this] { Work(); }) {}

MetalinkPublisher::~MetalinkPublisher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void MetalinkPublisher::Changed() {
  {
    std::lock_guard lock(mu_);
    dirty_ = true;
  }
  wake_.notify_all();
}

bool MetalinkPublisher::Stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
}

void MetalinkPublisher::Work() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return dirty_ || stopping_; });
    if (stopping_) return;
    dirty_ = false;
    lock.unlock();
    auto written = PublishNow();
    if (!written) {
      spdlog::warn("metalinks: {}", written.error().what);
    } else if (*written > 0) {
      spdlog::info("metalinks: {} written in {}", *written, dir_.string());
    }
    lock.lock();
  }
}

Expected<size_t> MetalinkPublisher::PublishNow() {
  auto root = server::ContentRoot::Open(root_);
  if (!root) return Unexpected{root.error()};
  std::vector<std::string> names;
  size_t written = 0;
  for (const core::TocEntry& e : root->Scan()) {
    if (Stopping()) return written;  // the rest at the next start
    if (IsDocumentName(e.name)) continue;
    names.push_back(e.name);
    fs::path path = root->path() / e.name;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;  // gone meanwhile
    Stamp stamp{st.st_ino, st.st_size,
                st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
    auto known = published_.find(e.name);
    if (known != published_.end() && known->second == stamp) continue;
    auto hashed = HashFile(path.string());
    if (!hashed) {
      spdlog::warn("metalinks: {}", hashed.error().what);
      continue;
    }
    std::vector<std::string> urls;
    for (const auto& base : bases_) urls.push_back(MirrorUrl(base, e.name));
    std::string doc =
        client::WriteMetalink(fs::path(e.name).filename().string(),
                              hashed->first, hashed->second, urls);
    if (Status s = Write(e.name, doc); !s) return Unexpected{s.error()};
    published_[e.name] = stamp;
    ++written;
  }
  RemoveStale(names);
  return written;
}

// Written beside, then renamed over: a reader never sees half a document.
Status MetalinkPublisher::Write(const std::string& name,
                                const std::string& doc) const {
  fs::path path = dir_ / (name + kSuffix);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path;
  tmp += ".part";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << doc;
    out.close();
    if (!out) return MakeError(Errc::kIoError, "cannot write " + tmp.string());
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    return MakeError(Errc::kIoError,
                     "cannot rename " + tmp.string() + ": " + ec.message());
  }
  return Ok{};
}

// Documents of files the root no longer has (braid's only).
void MetalinkPublisher::RemoveStale(const std::vector<std::string>& names) {
  std::set<std::string> wanted;
  for (const auto& n : names) wanted.insert(n + kSuffix);
  for (auto it = published_.begin(); it != published_.end();) {
    bool kept = wanted.count(it->first + kSuffix) > 0;
    it = kept ? std::next(it) : published_.erase(it);
  }
  std::error_code ec;
  fs::recursive_directory_iterator walk(dir_, ec), end;
  std::vector<fs::path> stale;
  for (; !ec && walk != end; walk.increment(ec)) {
    if (!walk->is_regular_file() || !IsDocumentName(walk->path().string()))
      continue;
    std::string rel = walk->path().lexically_relative(dir_).generic_string();
    if (!wanted.count(rel) && WrittenByBraid(walk->path()))
      stale.push_back(walk->path());
  }
  for (const auto& p : stale) fs::remove(p, ec);
}

}  // namespace braid::cli
