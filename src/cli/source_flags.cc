#include "cli/source_flags.h"

#include "cli/tls_flags.h"
#include "client/http_url.h"
#include "core/protocol.h"
#include "core/units.h"

namespace braid::cli {
namespace {

using Problem = std::optional<std::string>;

Problem ParseEndpoints(const SourceFlags& flags, client::GetOptions* options) {
  for (const auto& s : flags.sources) {
    if (auto e = AddSourceText(s, options)) return e;
  }
  if (!flags.director.empty()) {
    auto hp = core::ParseHostPort(flags.director);
    if (!hp) return "--director: " + hp.error().what;
    options->director = *hp;
  }
  options->discover = flags.discover;
  auto to = core::ParseHostPort(flags.discover_to);
  if (!to) return "--discover-to: " + to.error().what;
  options->discover_to = *to;
  options->discover_wait = std::chrono::milliseconds(flags.discover_wait_ms);
  return std::nullopt;
}

// --origin with its --via routes ("direct" is the route without a relay).
Problem ParseRoutes(const SourceFlags& flags, client::GetOptions* options) {
  if (!flags.origin.empty()) {
    auto hp = core::ParseHostPort(flags.origin);
    if (!hp) return "--origin: " + hp.error().what;
    options->origin = *hp;
    if (flags.vias.empty())
      return "--origin needs --via RELAY (or --via direct)";
  }
  for (const auto& v : flags.vias) {
    if (!options->origin) return "--via needs --origin";
    if (v == "direct") {
      options->vias.push_back(std::nullopt);
      continue;
    }
    auto hp = core::ParseHostPort(v);
    if (!hp) return "--via: " + hp.error().what;
    options->vias.push_back(*hp);
  }
  return std::nullopt;
}

Problem ParseSizes(const SourceFlags& flags, client::GetOptions* options) {
  // A range request costs a round trip and headers: bigger blocks for mirrors.
  std::string block_size = flags.block_size;
  if (block_size.empty())
    block_size = options->mirrors.empty() ? "64KiB" : "256KiB";
  auto block = core::ParseSize(block_size);
  if (!block || *block < core::kMinBlockSize || *block > core::kMaxBlockSize)
    return "--block-size must be between 512 and 4MiB";
  options->block_size = static_cast<uint32_t>(*block);
  auto buffer = core::ParseSize(flags.max_buffer);
  if (!buffer) return buffer.error().what;
  options->reorder_bytes = *buffer;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> AddSourceText(const std::string& text,
                                         client::GetOptions* options) {
  if (client::LooksLikeUrl(text)) {
    auto url = client::ParseUrl(text);
    if (!url) return url.error().what;
    options->mirrors.push_back(*url);
    return std::nullopt;
  }
  auto hp = core::ParseHostPort(text);
  if (!hp) return hp.error().what;
  options->sources.push_back(*hp);
  return std::nullopt;
}

void AddSourceFlags(CLI::App* cmd, SourceFlags* flags,
                    const std::string& max_buffer_help) {
  cmd->add_option("--source", flags->sources,
                  "A source: a braid server HOST:PORT or an http(s) mirror "
                  "URL of the same file (repeat for more)");
  cmd->add_option("--director", flags->director,
                  "Ask the director at HOST:PORT who holds NAME; servers that "
                  "start serving it during the transfer join it, servers the "
                  "director drops leave it. Its content id is trusted.");
  cmd->add_option("--origin", flags->origin,
                  "The one server to fetch from over several routes (--via)");
  cmd->add_option("--via", flags->vias,
                  "A route to --origin: a relay HOST:PORT (`braid relay`), or "
                  "direct; repeat for more. Each route gets its share of the "
                  "pattern, like a source");
  cmd->add_flag("--discover", flags->discover,
                "Ask the local network (UDP broadcast) who holds NAME, before "
                "and during the transfer");
  cmd->add_option("--discover-to", flags->discover_to,
                  "Where --discover asks (default 255.255.255.255:7072)");
  cmd->add_option("--discover-wait", flags->discover_wait_ms,
                  "Milliseconds to gather discovery answers (default 1000)")
      ->check(CLI::Range(10, 60000));
  cmd->add_option("--block-size", flags->block_size,
                  "Block size, 512 to 4MiB (default 64KiB; 256KiB when HTTP "
                  "mirrors take part)");
  cmd->add_option("--max-buffer", flags->max_buffer, max_buffer_help);
  cmd->add_option("--connections-per-source", flags->connections,
                  "Experimental: most TCP connections to one braid server "
                  "(default 1). Above 1, another one is opened when a path "
                  "loses packets without queueing, and more only while each "
                  "one added raised that server's throughput")
      ->check(CLI::Range(1, 16));
  cmd->add_option("--connect-timeout", flags->connect_timeout_s,
                  "Seconds to connect to and open a source before it is left "
                  "out (default 5)")
      ->check(CLI::Range(0.1, 600.0));
  cmd->add_option("--trust-key", flags->trust_keys,
                  "A publisher's Ed25519 public key (PEM): only content it "
                  "signed for NAME is accepted (sources serving with "
                  "--sign-key send the signature), whatever the director, "
                  "discovery or the other sources say (repeat for more keys)")
      ->check(CLI::ExistingFile);
  AddTlsClientFlags(cmd, &flags->tls, "servers, relays' origins and director");
  AddAccessTokenFlag(cmd, &flags->access_token,
                     "An access token (`braid token`) sent when opening a "
                     "stream on every braid source; servers started with "
                     "--access-key-file require one");
}

void AddAccessTokenFlag(CLI::App* cmd, std::string* token,
                        const std::string& help) {
  cmd->add_option("--access-token", *token,
                  help + ". Better in the environment variable " +
                      kAccessTokenEnv +
                      ", which other users cannot read in the process list")
      ->envname(kAccessTokenEnv);
}

std::optional<std::string> ApplySourceFlags(const SourceFlags& flags,
                                            client::GetOptions* options) {
  if (auto e = ParseEndpoints(flags, options)) return e;
  if (auto e = ParseRoutes(flags, options)) return e;
  options->connections_per_source = static_cast<size_t>(flags.connections);
  options->access_token = flags.access_token;
  for (const auto& path : flags.trust_keys) {
    auto key = core::TrustKey::Load(path);
    if (!key) return key.error().what;
    options->trust_keys.push_back(std::move(*key));
  }
  auto tls = ClientTls(flags.tls);
  if (!tls) return tls.error().what;
  options->tls = std::move(*tls);
  options->tls_options = flags.tls;
  options->connect_timeout = std::chrono::milliseconds(
      static_cast<int64_t>(flags.connect_timeout_s * 1000));
  if (!client::HasSources(*options))
    return "give sources: URLs, --source, --director, --discover or --origin "
           "with --via";
  return ParseSizes(flags, options);
}

}  // namespace braid::cli
