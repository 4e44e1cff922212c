#include "lib/session_options.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "client/engine/metalink_options.h"
#include "client/http/http_url.h"
#include "client/sources/metalink.h"
#include "core/checksum.h"
#include "core/protocol.h"
#include "core/units.h"

namespace braid::lib {
namespace {

Unexpected Invalid(const std::string& what) {
  return MakeError(Errc::kInvalidArgument, what);
}

Expected<core::HostPort> HostPortOf(const std::string& option,
                                    const std::string& text) {
  auto hp = core::ParseHostPort(text);
  if (!hp) return Invalid(option + ": " + hp.error().what);
  return *hp;
}

// A braid server HOST:PORT or an http(s) mirror URL (left out when it is
// another file's and mirrors_match_name is set).
Status AddSource(const SessionOptions& o, const std::string& text,
                 client::GetOptions* get) {
  if (client::LooksLikeUrl(text)) {
    auto url = client::ParseUrl(text);
    if (!url) return Invalid(url.error().what);
    if (o.mirrors_match_name && !client::UrlNamesFile(*url, o.name))
      return Ok{};
    get->mirrors.push_back(*url);
    if (get->name.empty()) get->name = client::UrlBaseName(*url);
    return Ok{};
  }
  auto hp = HostPortOf("--source", text);
  if (!hp) return Unexpected{hp.error()};
  get->sources.push_back(*hp);
  return Ok{};
}

Status AddFinders(const SessionOptions& o, client::GetOptions* get) {
  for (const auto& s : o.sources) {
    if (auto st = AddSource(o, s, get); !st) return st;
  }
  if (!o.director.empty()) {
    auto list = core::ParseHostPortList(o.director);
    if (!list) return Invalid("--director: " + list.error().what);
    get->directors = std::move(*list);
  }
  if (o.routes == Routes::kAlways && get->directors.empty())
    return Invalid("--routes needs --director");
  get->routes = o.routes;
  get->discover = o.discover;
  auto to = HostPortOf("--discover-to", o.discover_to);
  if (!to) return Unexpected{to.error()};
  get->discover_to = *to;
  get->discover_wait = o.discover_wait;
  return Ok{};
}

// origin with its routes ("direct" is the route without a relay).
Status AddRoutes(const SessionOptions& o, client::GetOptions* get) {
  if (!o.origin.empty()) {
    auto hp = HostPortOf("--origin", o.origin);
    if (!hp) return Unexpected{hp.error()};
    get->origin = *hp;
    if (o.vias.empty())
      return Invalid("--origin needs --via RELAY (or --via direct)");
  }
  for (const auto& v : o.vias) {
    if (!get->origin) return Invalid("--via needs --origin");
    if (v == "direct") {
      get->vias.push_back(std::nullopt);
      continue;
    }
    auto hp = HostPortOf("--via", v);
    if (!hp) return Unexpected{hp.error()};
    get->vias.push_back(*hp);
  }
  return Ok{};
}

Status AddSizes(const SessionOptions& o, client::GetOptions* get) {
  // A range request costs a round trip and headers: bigger blocks for mirrors.
  uint32_t block = o.block_size;
  if (block == 0) block = get->mirrors.empty() ? 64 * 1024 : 256 * 1024;
  if (block < core::kMinBlockSize || block > core::kMaxBlockSize)
    return Invalid("--block-size must be between 512 and 4MiB");
  get->block_size = block;
  get->reorder_bytes = o.max_buffer;
  if (o.connections_per_source < 1 || o.connections_per_source > 16)
    return Invalid("--connections-per-source must be 1 to 16");
  get->connections_per_source = static_cast<size_t>(o.connections_per_source);
  get->connect_timeout = o.connect_timeout;
  get->stall_timeout = o.stall_timeout;
  return Ok{};
}

Status AddTrust(const SessionOptions& o, client::GetOptions* get) {
  for (const auto& path : o.trust_key_files) {
    auto key = core::TrustKey::Load(path);
    if (!key) return Invalid(key.error().what);
    get->trust_keys.push_back(std::move(*key));
  }
  if (!o.content_id.empty()) {
    auto id = core::DigestFromHex(o.content_id);
    if (!id) return Invalid("--content-id: " + id.error().what);
    if (get->block_size % core::kPieceSize != 0) {
      return Invalid(
          "--content-id needs a --block-size that is a multiple of 64KiB");
    }
    get->content_id = *id;
  }
  if (o.tls.enabled) {
    auto tls = net::TlsContext::ForClient(o.tls);
    if (!tls) return Invalid(tls.error().what);
    get->tls = std::move(*tls);
  }
  get->access_token = o.access_token;
  return Ok{};
}

using client::CheckProxy;

// A Metalink's mirrors, name, size and hashes: a file read now, or a URL
// fetched when the transfer starts (client/engine/metalink_options.h).
Status AddMetalink(const SessionOptions& o, client::GetOptions* get) {
  if (o.metalink.empty()) return Ok{};
  get->name_from_metalink = o.name.empty();
  if (client::LooksLikeUrl(o.metalink)) {
    auto url = client::ParseUrl(o.metalink);
    if (!url) return Invalid("--metalink: " + url.error().what);
    get->metalink_url = *url;
    // Until the document names the file: its own name, less the suffix.
    if (get->name.empty())
      get->name = std::filesystem::path(client::UrlBaseName(*url)).stem();
    return Ok{};
  }
  std::ifstream in(o.metalink, std::ios::binary);
  if (!in) return Invalid("cannot open the metalink " + o.metalink);
  std::string text(client::kMaxMetalinkBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Invalid("cannot read the metalink " + o.metalink);
  text.resize(static_cast<size_t>(in.gcount()));
  if (auto s = client::UseMetalink(text, o.metalink, get); !s)
    return Invalid(s.error().what);
  return Ok{};
}

bool HasLineBreak(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

Status AddHttp(const SessionOptions& o, client::GetOptions* get) {
  const HttpSettings& h = o.http;
  client::HttpConnOptions& c = get->http;
  c.ca_file = o.tls.ca_file;
  c.insecure = o.tls.insecure;
  for (const auto& header : h.headers) {
    auto colon = header.find(':');
    if (colon == 0 || colon == std::string::npos || HasLineBreak(header))
      return Invalid("--header wants 'Name: value' on one line, not '" +
                     header + "'");
  }
  if (HasLineBreak(h.user_agent) || HasLineBreak(h.user) ||
      HasLineBreak(h.cookies))
    return Invalid("--user-agent, --user and --cookie take one line");
  if (h.cookies.find('\t') != std::string::npos)
    return Invalid("--cookie takes no tab");
  if (!h.cookies.empty() && h.cookies.find('=') == std::string::npos)
    return Invalid("--cookie wants NAME=VALUE[; NAME=VALUE...] or a file");
  if (!h.cookie_file.empty() && !std::ifstream(h.cookie_file))
    return Invalid("--cookie: cannot read the cookie file " + h.cookie_file);
  if (!h.user.empty() && h.user.find(':') == std::string::npos)
    return Invalid("--user wants NAME:PASSWORD");
  if (h.connections_per_mirror < 1 || h.connections_per_mirror > 16)
    return Invalid("--connections-per-mirror must be 1 to 16");
  if (auto e = CheckProxy(h.proxy)) return Invalid("--proxy: " + *e);
  c.headers = h.headers;
  c.user_agent = h.user_agent;
  c.user = h.user;
  c.netrc = h.netrc || !h.netrc_file.empty();
  c.netrc_file = h.netrc_file;
  c.cookies = h.cookies;
  c.cookie_file = h.cookie_file;
  c.proxy = h.proxy;
  c.connections = static_cast<size_t>(h.connections_per_mirror);
  get->follow_mirror_links = h.follow_links;
  return Ok{};
}

}  // namespace

Expected<client::GetOptions> ToGetOptions(const SessionOptions& o) {
  client::GetOptions get;
  get.name = o.name;
  for (auto step :
       {AddFinders, AddRoutes, AddSizes, AddTrust, AddHttp, AddMetalink}) {
    if (auto st = step(o, &get); !st) return Unexpected{st.error()};
  }
  if (get.name.empty()) return Invalid("no name given");
  // The mirrors named so far (given, or in a Metalink file given) are the
  // user's: credentials go to them alone, not to mirrors learned later.
  for (const auto& url : get.mirrors)
    get.http.credential_origins.push_back(url.Origin());
  if (!client::HasSources(get) && o.mirrors_match_name) {
    return MakeError(Errc::kNotFound, "no source serves '" + get.name +
                                          "' (no mirror URL names that file)");
  }
  if (!client::HasSources(get)) {
    return Invalid(
        "give sources: URLs, --source, --director, --discover or --origin "
        "with --via");
  }
  return get;
}

Status AddFetchOptions(const FetchOptions& f, client::GetOptions* get) {
  if (f.range) get->range = core::ByteRange{f.range->offset, f.range->length};
  get->live_edge = f.live_edge;
  if (!f.sha256.empty()) {
    auto digest = core::DigestFromHex(f.sha256);
    if (!digest) return Invalid("--sha256: " + digest.error().what);
    if (get->sink) return Invalid("--sha256 needs a file output");
    if (f.range) return Invalid("--sha256 checks a whole file, not --range");
    get->sha256 = *digest;
  }
  if (!f.checksum.empty()) {
    auto sum = core::ParseChecksum(f.checksum);
    if (!sum) return Invalid("--checksum " + sum.error().what);
    if (get->sink) return Invalid("--checksum needs a file output");
    if (f.range) return Invalid("--checksum checks a whole file, not --range");
    if (sum->algo != "sha-256") {
      get->checksum = *sum;
    } else if (get->sha256 &&
               !std::equal(get->sha256->begin(), get->sha256->end(),
                           sum->value.begin(), sum->value.end())) {
      return Invalid("--sha256 and --checksum sha-256 differ");
    } else {
      std::copy(sum->value.begin(), sum->value.end(),
                get->sha256.emplace().begin());
      if (f.sha256.empty()) get->sha256_from = "--checksum";
    }
  }
  if (!get->sha256 && get->default_sha256 && !get->sink && !f.range) {
    get->sha256 = get->default_sha256;
    get->sha256_from = "the Metalink";
  }
  get->trace_path = f.trace_path;
  get->on_trace = f.on_trace;
  get->resume = f.resume;
  get->max_rate = f.max_rate;
  get->on_progress = f.on_progress;
  get->on_source = f.on_source;
  return Ok{};
}

}  // namespace braid::lib
