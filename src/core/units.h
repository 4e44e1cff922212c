// Parsing of human-written quantities and addresses from the command line
// and config files.
#ifndef BRAID_CORE_UNITS_H_
#define BRAID_CORE_UNITS_H_

#include <braid/expected.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace braid::core {

// A rate in bytes per second. "50mbit" (bits: /8), "6MB", "800k", "1.5G",
// "1000" (bytes). k/M/G are powers of 1000; "KiB"/"MiB"/"GiB" powers of
// 1024; a unit ending in "bit" or "bps" counts bits. "0" means unlimited.
Expected<uint64_t> ParseRate(std::string_view text);

// s with ASCII letters in lower case (names, units and schemes compare so).
std::string AsciiLower(std::string_view s);
// Whether a and b are the same but for the case of ASCII letters.
bool EqualsNoCase(std::string_view a, std::string_view b);

// A size in bytes: "4096", "256k", "256KiB", "64MiB", "1G" (k/M/G powers of
// 1000, KiB/MiB/GiB powers of 1024).
Expected<uint64_t> ParseSize(std::string_view text);

// A duration in whole seconds: "90" or "90s", "15m", "2h", "7d". At most
// 100 years.
Expected<std::chrono::seconds> ParseDuration(std::string_view text);

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;
};

// "127.0.0.1:7070", "localhost:80", "[::1]:7070". Port 0 is allowed only
// when allow_zero (listeners).
Expected<HostPort> ParseHostPort(std::string_view text,
                                 bool allow_zero = false);
// "HOST:PORT[,HOST:PORT...]": several addresses of one service (directors,
// etcd members), tried in turn. At least one; no port 0.
Expected<std::vector<HostPort>> ParseHostPortList(std::string_view text);

}  // namespace braid::core

#endif  // BRAID_CORE_UNITS_H_
