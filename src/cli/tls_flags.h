// TLS flags shared by the commands (docs/security.md "TLS"): --tls,
// --cacert and --insecure where a command opens links, --tls-cert and
// --tls-key where a daemon listens.
#ifndef BRAID_CLI_TLS_FLAGS_H_
#define BRAID_CLI_TLS_FLAGS_H_

#include <braid/expected.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "net/tls.h"

namespace braid::cli {

// --tls, --cacert FILE, --insecure. `links` names what --tls covers
// ("servers and director").
void AddTlsClientFlags(CLI::App* cmd, net::TlsClientOptions* options,
                       const std::string& links);
// --tls-cert FILE, --tls-key FILE.
void AddTlsServerFlags(CLI::App* cmd, net::TlsServerOptions* options);

// Says on stderr what --insecure gives up.
void WarnIfInsecure(const net::TlsClientOptions& options);
// The context for braid links (null without --tls); the error names the
// file or flag that is wrong.
Expected<std::shared_ptr<const net::TlsContext>> ClientTls(
    const net::TlsClientOptions& options);
// Null without --tls-cert.
Expected<std::shared_ptr<const net::TlsContext>> ServerTls(
    const net::TlsServerOptions& options);

}  // namespace braid::cli

#endif  // BRAID_CLI_TLS_FLAGS_H_
