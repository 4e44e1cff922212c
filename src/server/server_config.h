// Settings of `braid serve`, from a TOML file (--config) and flags; flags
// override the file. Keys: root, listen, name, director, advertise,
// discovery, max_rate, live_spool_max, sign_key, tls_cert, tls_key,
// access_key_file, director_token_file, metalinks, metrics, a list mirrors
// of URLs, and a table [live] of NAME = "PATH" live streams.
#ifndef BRAID_SERVER_SERVER_CONFIG_H_
#define BRAID_SERVER_SERVER_CONFIG_H_

#include <braid/expected.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/units.h"
#include "net/tls_options.h"

namespace braid::server {

struct ServerOptions {
  std::string root;
  core::HostPort listen{"127.0.0.1", 7070};
  std::string name;  // shown in logs
  // The directors to register with (one at a time: the next when one
  // fails; directors sharing a catalog in etcd), and the address told to
  // them and to discovery (default: the listen address; an unspecified host
  // becomes the address this machine uses to reach the director).
  std::vector<core::HostPort> directors;
  std::optional<core::HostPort> advertise;
  // UDP address answering DISCOVER; none when "off". Default: port 7072 on
  // 127.255.255.255 (loopback broadcasts only) when listening on loopback,
  // else on 0.0.0.0.
  std::optional<core::HostPort> discovery = core::HostPort{"", 7072};
  uint64_t max_rate = 0;  // bytes per second, 0 = unlimited
  // A publisher's Ed25519 private key (PEM): the server signs each file's
  // name, size and content id with it (core/signing.h). Empty: none.
  std::string sign_key;
  // TLS on every connection (docs/security.md "TLS"); none without a cert.
  net::TlsServerOptions tls;
  // A file holding the hex secret of access tokens (core/access_token.h):
  // OPEN and LIST then need a token made with it. Empty: open to all.
  std::string access_key_file;
  // A file holding this server's registration token for the director
  // (core/register_token.h). Empty: none. REQUIRES: directors, when set.
  std::string director_token_file;
  // A directory kept holding a Metalink of each file (NAME.meta4) whose
  // URLs are the file's under each of `mirrors` (web mirrors of the root).
  // Empty: none. REQUIRES: mirrors, when set (and only then).
  std::string metalinks;
  std::vector<std::string> mirrors;
  // HOST:PORT serving Prometheus metrics at /metrics; empty: none.
  std::string metrics;
  // Live streams: name -> a FIFO or a file a producer appends to.
  std::vector<std::pair<std::string, std::string>> live;
  // Most bytes of one FIFO live stream kept in its spool; the stream ends
  // there (the disk does not fill up).
  uint64_t live_spool_max = uint64_t{16} << 30;
  size_t max_connections = 1024;
  size_t max_connections_per_peer = 64;
  // Control frames queued for a peer that does not read; past this the
  // server stops reading its requests.
  size_t max_queued_bytes = 4u << 20;
  // Testing only: flip a byte in every Nth block sent (0 = never).
  uint64_t fault_corrupt_every = 0;
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds idle_timeout{60};
};

// What the file and the flags may set, each optional so flags can override.
struct ServerSettings {
  std::optional<std::string> root, listen, name, director, advertise, discovery,
      max_rate, live_spool_max, sign_key, tls_cert, tls_key, access_key_file,
      director_token_file, metalinks, metrics;
  std::vector<std::string> live;     // "NAME=PATH"; the flags add to the file's
  std::vector<std::string> mirrors;  // the flags' replace the file's
};

// Parses a TOML file. Errors name the file, the key and what is wrong.
Expected<ServerSettings> LoadServerSettings(const std::string& path);
// Parses TOML text; `origin` names it in errors. Never throws.
Expected<ServerSettings> ParseServerSettings(std::string_view text,
                                             const std::string& origin);

// file, then flags on top; validates. kMalformed with a clear message.
Expected<ServerOptions> ResolveServerOptions(const ServerSettings& file,
                                             const ServerSettings& flags);

}  // namespace braid::server

#endif  // BRAID_SERVER_SERVER_CONFIG_H_
