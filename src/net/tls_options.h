// What a command line or config says about TLS (docs/security.md "TLS"),
// without asio: settings structs may hold these where the rest of net/ is
// not wanted (server_config, the config fuzzer). net/tls.h makes contexts
// from them.
#ifndef BRAID_NET_TLS_OPTIONS_H_
#define BRAID_NET_TLS_OPTIONS_H_

#include <string>

namespace braid::net {

// What a command line says about TLS on the links a process opens.
struct TlsClientOptions {
  bool enabled = false;   // --tls (implied by --cacert and --insecure)
  std::string ca_file;    // PEM authorities; empty: the system's
  bool insecure = false;  // no certificate check at all (warned)
};

// What a daemon shows: its certificate chain and key (PEM files).
struct TlsServerOptions {
  std::string cert_file;
  std::string key_file;
  bool enabled() const { return !cert_file.empty(); }
};

}  // namespace braid::net

#endif  // BRAID_NET_TLS_OPTIONS_H_
