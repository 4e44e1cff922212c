// Reading the small files that hold secrets (access keys, registration
// tokens), so that no secret has to appear on a command line.
#ifndef BRAID_CORE_SECRET_FILE_H_
#define BRAID_CORE_SECRET_FILE_H_

#include <braid/expected.h>

#include <cstddef>
#include <string>

namespace braid::core {

// The whole file, at most max_bytes; kIoError or kLimit naming `what` and
// the path otherwise.
Expected<std::string> ReadSecretFile(const std::string& path, size_t max_bytes,
                                     const char* what);

}  // namespace braid::core

#endif  // BRAID_CORE_SECRET_FILE_H_
