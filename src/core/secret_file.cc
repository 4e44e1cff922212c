#include "core/secret_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace braid::core {

Expected<std::string> ReadSecretFile(const std::string& path, size_t max_bytes,
                                     const char* what) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(
      std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) {
    return MakeError(Errc::kIoError, std::string("cannot read ") + what + " " +
                                         path + ": " + std::strerror(errno));
  }
  std::string text(max_bytes + 1, '\0');
  size_t n = std::fread(text.data(), 1, text.size(), f.get());
  if (std::ferror(f.get())) {
    return MakeError(Errc::kIoError,
                     std::string("cannot read ") + what + " " + path);
  }
  if (n > max_bytes) {
    return MakeError(Errc::kLimit, std::string(what) + " " + path +
                                       " is larger than " +
                                       std::to_string(max_bytes) + " bytes");
  }
  text.resize(n);
  return text;
}

}  // namespace braid::core
