// braid's error codes and errors are public (include/braid/error.h); this
// adds what only braid's own code uses.
#ifndef BRAID_CORE_ERRC_H_
#define BRAID_CORE_ERRC_H_

#include <braid/error.h>

#include <string>

namespace braid {

// kIoError naming the operation and errno's text ("write out.bin: No space
// left on device"). Call right after the failing system call.
Error IoError(const std::string& op);

}  // namespace braid

#endif  // BRAID_CORE_ERRC_H_
