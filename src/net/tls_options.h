// What a command line or config says about TLS (docs/security.md "TLS"),
// without asio: settings structs may hold these where the rest of net/ is
// not wanted (server_config, the config fuzzer). net/tls.h makes contexts
// from them.
#ifndef BRAID_NET_TLS_OPTIONS_H_
#define BRAID_NET_TLS_OPTIONS_H_

#include <braid/client.h>

#include <string>

namespace braid::net {

// What a command line says about TLS on the links a process opens
// (libbraid's TlsSettings: --tls, implied by --cacert and --insecure).
using TlsClientOptions = braid::TlsSettings;

// What a daemon shows: its certificate chain and key (PEM files).
struct TlsServerOptions {
  std::string cert_file;
  std::string key_file;
  bool enabled() const { return !cert_file.empty(); }
};

}  // namespace braid::net

#endif  // BRAID_NET_TLS_OPTIONS_H_
