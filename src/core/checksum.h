// A whole file's checksum in any of the algorithms aria2 and Metalink name
// (aria2's --checksum=ALGO=HEX), computed with OpenSSL's EVP.
#ifndef BRAID_CORE_CHECKSUM_H_
#define BRAID_CORE_CHECKSUM_H_

#include <braid/expected.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace braid::core {

struct FileChecksum {
  // "md5", "sha-1", "sha-224", "sha-256", "sha-384" or "sha-512".
  std::string algo;
  std::vector<uint8_t> value;
};

// "ALGO=HEX", ALGO in either case and with or without its hyphen ("SHA1",
// "sha-1"); HEX of the algorithm's length. kMalformed naming what is wrong.
Expected<FileChecksum> ParseChecksum(std::string_view text);

// The checksum `algo` (one ParseChecksum accepts) of the file at path;
// kIoError if it cannot be read.
Expected<std::vector<uint8_t>> ChecksumOfFile(const std::string& path,
                                              const std::string& algo);

}  // namespace braid::core

#endif  // BRAID_CORE_CHECKSUM_H_
