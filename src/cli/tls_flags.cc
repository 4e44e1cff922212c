#include "cli/tls_flags.h"

#include <spdlog/spdlog.h>

namespace braid::cli {

void AddTlsClientFlags(CLI::App* cmd, net::TlsClientOptions* options,
                       const std::string& links) {
  cmd->add_flag("--tls", options->enabled,
                "Speak TLS to braid " + links +
                    " (their certificates are checked against the system's "
                    "authorities, or --cacert, and must name the host or IP "
                    "address dialled)");
  cmd->add_option("--cacert", options->ca_file,
                  "PEM file of the authorities to trust instead of the "
                  "system's, for --tls and https mirrors")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--insecure", options->insecure,
                "Do not check TLS certificates at all (--tls and https "
                "mirrors): anyone on the path can read and change the "
                "transfer. For tests only");
}

void AddTlsServerFlags(CLI::App* cmd, net::TlsServerOptions* options) {
  cmd->add_option("--tls-cert", options->cert_file,
                  "PEM certificate chain: every connection must then speak "
                  "TLS (clients use --tls)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-key", options->key_file,
                  "PEM private key of --tls-cert")
      ->check(CLI::ExistingFile);
}

void WarnIfInsecure(const net::TlsClientOptions& options) {
  if (options.insecure) {
    spdlog::warn(
        "--insecure: TLS certificates are not checked; anyone on the path "
        "can read and change what braid receives");
  }
}

Expected<std::shared_ptr<const net::TlsContext>> ClientTls(
    const net::TlsClientOptions& options) {
  WarnIfInsecure(options);
  if (!options.enabled) return std::shared_ptr<const net::TlsContext>();
  return net::TlsContext::ForClient(options);
}

Expected<std::shared_ptr<const net::TlsContext>> ServerTls(
    const net::TlsServerOptions& options) {
  if (!options.enabled()) {
    if (!options.key_file.empty())
      return MakeError(Errc::kMalformed, "--tls-key needs --tls-cert");
    return std::shared_ptr<const net::TlsContext>();
  }
  return net::TlsContext::ForServer(options);
}

}  // namespace braid::cli
