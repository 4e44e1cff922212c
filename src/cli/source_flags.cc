#include "cli/source_flags.h"

#include "cli/tls_flags.h"
#include "core/protocol.h"
#include "core/units.h"

namespace braid::cli {

namespace {

void AddHttpFlags(CLI::App* cmd, HttpSettings* http) {
  const std::string group = "HTTP(S) mirrors";
  cmd->add_option("-H,--header", http->headers,
                  "Send this header with every request to a mirror, "
                  "'Name: value' (repeat for more)")
      ->group(group);
  cmd->add_option("-A,--user-agent", http->user_agent,
                  "User-Agent sent to mirrors (default braid/0.1)")
      ->group(group);
  cmd->add_option("-u,--user", http->user,
                  "NAME:PASSWORD for mirrors that ask (HTTP Basic), sent to "
                  "the mirrors named only (not those a mirror links, nor "
                  "after a redirect to another host). Other users can read "
                  "it in the process list: prefer --netrc")
      ->group(group);
  cmd->add_flag("--netrc", http->netrc,
                "Take mirrors' credentials by host from ~/.netrc")
      ->group(group);
  cmd->add_option("--netrc-file", http->netrc_file,
                  "Take mirrors' credentials by host from this file")
      ->check(CLI::ExistingFile)
      ->group(group);
  cmd->add_option_function<std::string>(
         "-b,--cookie",
         [http](const std::string& v) {
           (v.find('=') != std::string::npos ? http->cookies
                                             : http->cookie_file) = v;
         },
         "Cookies for mirrors: 'NAME=VALUE; NAME2=VALUE2' (sent to the "
         "mirrors named, as --user is), or a cookie file in Netscape "
         "format (each cookie to its own domain), as curl -b takes them")
      ->type_name("DATA|FILE")
      ->group(group);
  cmd->add_option("--proxy", http->proxy,
                  "Reach mirrors through this proxy: [SCHEME://]HOST[:PORT], "
                  "SCHEME http, https, socks4, socks4a, socks5 or socks5h. "
                  "Default: the environment's http_proxy, https_proxy, "
                  "all_proxy and no_proxy, as curl reads them; braid "
                  "servers are never proxied")
      ->group(group);
  cmd->add_option("--connections-per-mirror", http->connections_per_mirror,
                  "Most connections (range requests at once) to one mirror "
                  "(default 2)")
      ->check(CLI::Range(1, 16))
      ->group(group);
  cmd->add_flag_callback(
         "--no-mirror-links", [http] { http->follow_links = false; },
         "Ignore the other mirrors and the Metalink a mirror links "
         "(RFC 6249 Link fields), which are otherwise taken: the "
         "fetch starts again with them, or they join it once it runs")
      ->group(group);
}

}  // namespace

void AddSourceFlags(CLI::App* cmd, SourceFlags* flags,
                    const std::string& max_buffer_help) {
  cmd->add_option("--source", flags->sources,
                  "A source: a braid server HOST:PORT or an http(s) mirror "
                  "URL of the same file (repeat for more)");
  cmd->add_option("--director", flags->director,
                  "Ask the director at HOST:PORT who holds NAME; servers that "
                  "start serving it during the transfer join it, servers the "
                  "director drops leave it. Its content id is trusted. "
                  "Several directors sharing one catalog, comma-separated: "
                  "one at a time, the next when one fails");
  cmd->add_flag_callback(
      "--routes", [flags] { flags->routes = braid::Routes::kAlways; },
      "Ask --director for routes whatever the number of holders (by "
      "default only when two servers or fewer hold NAME): each relay "
      "registered for a holder (`braid relay --director`) carries one more "
      "connection to it, a source of its own in the pattern; relays that "
      "register or expire during the transfer join or leave it");
  cmd->add_flag_callback(
      "--no-routes", [flags] { flags->routes = braid::Routes::kNever; },
      "Never use routes through relays the director names");
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
  AddHttpFlags(cmd, &flags->http);
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
                                            SessionOptions* options) {
  options->sources.insert(options->sources.end(), flags.sources.begin(),
                          flags.sources.end());
  options->director = flags.director;
  options->discover = flags.discover;
  options->routes = flags.routes;
  options->discover_to = flags.discover_to;
  options->discover_wait = std::chrono::milliseconds(flags.discover_wait_ms);
  options->origin = flags.origin;
  options->vias = flags.vias;
  if (!flags.block_size.empty()) {
    auto block = core::ParseSize(flags.block_size);
    if (!block || *block < core::kMinBlockSize || *block > core::kMaxBlockSize)
      return "--block-size must be between 512 and 4MiB";
    options->block_size = static_cast<uint32_t>(*block);
  }
  auto buffer = core::ParseSize(flags.max_buffer);
  if (!buffer) return "--max-buffer: " + buffer.error().what;
  options->max_buffer = *buffer;
  options->connections_per_source = flags.connections;
  options->connect_timeout = std::chrono::milliseconds(
      static_cast<int64_t>(flags.connect_timeout_s * 1000));
  options->trust_key_files = flags.trust_keys;
  WarnIfInsecure(flags.tls);
  options->tls = flags.tls;
  options->access_token = flags.access_token;
  options->http = flags.http;
  return std::nullopt;
}

}  // namespace braid::cli
