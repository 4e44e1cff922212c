// The flags that say where a stream comes from and how it is cut, shared by
// `braid get` and `braid proxy`.
#ifndef BRAID_CLI_SOURCE_FLAGS_H_
#define BRAID_CLI_SOURCE_FLAGS_H_

#include <braid/client.h>

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "net/tls.h"

namespace braid::cli {

struct SourceFlags {
  std::vector<std::string> sources;
  std::string director;
  braid::Routes routes = braid::Routes::kWhenFew;
  bool discover = false;
  std::string discover_to = "255.255.255.255:7072";
  int discover_wait_ms = 1000;
  std::string origin;
  std::vector<std::string> vias;
  std::string block_size;  // default: 64KiB, 256KiB with HTTP mirrors
  std::string max_buffer = "64MiB";
  int connections = 1;  // --connections-per-source (experimental)
  double connect_timeout_s = 5;
  std::vector<std::string> trust_keys;  // PEM public key files
  net::TlsClientOptions tls;
  std::string access_token;  // or $BRAID_ACCESS_TOKEN
  HttpSettings http;         // how HTTP(S) mirrors are asked
};

// Registers --source, --director, --origin, --via, --discover*,
// --block-size, --max-buffer (described by max_buffer_help),
// --connections-per-source, --connect-timeout, --trust-key, --access-token,
// the TLS client flags (cli/tls_flags.h) and the HTTP mirror flags (curl's
// --header, --user-agent, --user, --netrc, --netrc-file, --proxy, and
// --connections-per-mirror) on cmd.
void AddSourceFlags(CLI::App* cmd, SourceFlags* flags,
                    const std::string& max_buffer_help);

// --access-token, also read from the environment variable kAccessTokenEnv.
inline constexpr char kAccessTokenEnv[] = "BRAID_ACCESS_TOKEN";
void AddAccessTokenFlag(CLI::App* cmd, std::string* token,
                        const std::string& help);

// Copies the flags into options (adding to its sources); sizes are parsed
// here, the rest is checked when the session is made. The error is a usage
// message.
std::optional<std::string> ApplySourceFlags(const SourceFlags& flags,
                                            SessionOptions* options);

}  // namespace braid::cli

#endif  // BRAID_CLI_SOURCE_FLAGS_H_
