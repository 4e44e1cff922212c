#include "server/server_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "core/stream_name.h"

namespace braid::server {

Expected<ServerSettings> LoadServerSettings(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return MakeError(Errc::kNotFound, "config " + path + ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseServerSettings(text.str(), path);
}

namespace {

// [live] NAME = "PATH", one per live stream.
Status ParseLiveTable(const toml::node& node, const std::string& path,
                      std::vector<std::string>* out) {
  const toml::table* table = node.as_table();
  if (!table) {
    return MakeError(Errc::kMalformed, "config " + path +
                                           ": 'live' must be a table of NAME = "
                                           "\"PATH\"");
  }
  for (const auto& [name, value] : *table) {
    auto where = value.value<std::string>();
    if (!where) {
      return MakeError(Errc::kMalformed, "config " + path + ": live." +
                                             std::string(name.str()) +
                                             " must be a string (a path)");
    }
    out->push_back(std::string(name.str()) + "=" + *where);
  }
  return Ok{};
}

// mirrors = ["URL", ...]: base URLs of web mirrors of the root.
Status ParseMirrors(const toml::node& node, const std::string& path,
                    std::vector<std::string>* out) {
  const toml::array* list = node.as_array();
  bool strings =
      list && std::all_of(list->begin(), list->end(), [](const toml::node& n) {
        return n.value<std::string>().has_value();
      });
  if (!strings) {
    return MakeError(Errc::kMalformed,
                     "config " + path + ": 'mirrors' must be a list of URLs");
  }
  for (const toml::node& n : *list) out->push_back(*n.value<std::string>());
  return Ok{};
}

// Metalinks: a directory and the mirror bases their URLs are under.
Status CheckMetalinks(ServerOptions* o) {
  for (const auto& url : o->mirrors) {
    if (!url.starts_with("http://") && !url.starts_with("https://"))
      return MakeError(Errc::kMalformed,
                       "mirror '" + url + "': not an http(s) URL");
  }
  if (!o->mirrors.empty() && o->metalinks.empty())
    return MakeError(Errc::kMalformed,
                     "mirror URLs are for Metalinks: give --metalinks DIR");
  if (!o->metalinks.empty() && o->mirrors.empty())
    return MakeError(Errc::kMalformed,
                     "--metalinks needs at least one --mirror URL");
  return Ok{};
}

// "NAME=PATH" -> the pair, with NAME a valid stream name.
Status ParseLive(const std::string& item, ServerOptions* o) {
  auto eq = item.find('=');
  if (eq == std::string::npos || eq + 1 == item.size()) {
    return MakeError(Errc::kMalformed,
                     "live stream '" + item + "': expected NAME=PATH");
  }
  std::string name = item.substr(0, eq);
  if (auto st = core::CheckStreamName(name); !st) {
    return MakeError(Errc::kMalformed,
                     "live stream name '" + name + "': " + st.error().what);
  }
  for (auto& [n, p] : o->live) {
    if (n == name) {
      p = item.substr(eq + 1);  // a flag overrides the file
      return Ok{};
    }
  }
  o->live.emplace_back(name, item.substr(eq + 1));
  return Ok{};
}

}  // namespace

Expected<ServerSettings> ParseServerSettings(std::string_view text,
                                             const std::string& path) {
  toml::table table;
  try {
    table = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return MakeError(Errc::kMalformed,
                     "config " + path + ": " + std::string(e.description()));
  }
  static const std::set<std::string> kKeys = {"root",
                                              "listen",
                                              "name",
                                              "director",
                                              "advertise",
                                              "discovery",
                                              "max_rate",
                                              "live_spool_max",
                                              "sign_key",
                                              "tls_cert",
                                              "tls_key",
                                              "access_key_file",
                                              "director_token_file",
                                              "metalinks",
                                              "metrics"};
  ServerSettings s;
  for (const auto& [key, value] : table) {
    std::string k(key.str());
    if (k == "live") {
      if (auto st = ParseLiveTable(value, path, &s.live); !st)
        return Unexpected{st.error()};
      continue;
    }
    if (k == "mirrors") {
      if (auto st = ParseMirrors(value, path, &s.mirrors); !st)
        return Unexpected{st.error()};
      continue;
    }
    if (!kKeys.count(k)) {
      return MakeError(Errc::kMalformed,
                       "config " + path + ": unknown key '" + k + "'");
    }
    std::optional<std::string> text;
    if (auto str = value.value<std::string>()) {
      text = *str;
    } else if (auto num = value.value<int64_t>();
               num && (k == "max_rate" || k == "live_spool_max")) {
      text = std::to_string(*num);
    } else {
      return MakeError(Errc::kMalformed,
                       "config " + path + ": '" + k + "' must be a string");
    }
    if (k == "root") s.root = text;
    if (k == "listen") s.listen = text;
    if (k == "name") s.name = text;
    if (k == "director") s.director = text;
    if (k == "advertise") s.advertise = text;
    if (k == "discovery") s.discovery = text;
    if (k == "max_rate") s.max_rate = text;
    if (k == "live_spool_max") s.live_spool_max = text;
    if (k == "sign_key") s.sign_key = text;
    if (k == "tls_cert") s.tls_cert = text;
    if (k == "tls_key") s.tls_key = text;
    if (k == "access_key_file") s.access_key_file = text;
    if (k == "director_token_file") s.director_token_file = text;
    if (k == "metalinks") s.metalinks = text;
    if (k == "metrics") s.metrics = text;
  }
  return s;
}

Expected<ServerOptions> ResolveServerOptions(const ServerSettings& file,
                                             const ServerSettings& flags) {
  auto pick = [](const std::optional<std::string>& a,
                 const std::optional<std::string>& b) { return b ? b : a; };
  ServerOptions o;
  auto root = pick(file.root, flags.root);
  if (!root || root->empty()) {
    return MakeError(Errc::kMalformed,
                     "no root directory (--root or 'root' in the config)");
  }
  o.root = *root;
  if (auto listen = pick(file.listen, flags.listen)) {
    auto hp = core::ParseHostPort(*listen, /*allow_zero=*/true);
    if (!hp) return Unexpected{hp.error()};
    o.listen = *hp;
  }
  if (auto rate = pick(file.max_rate, flags.max_rate)) {
    auto r = core::ParseRate(*rate);
    if (!r) return Unexpected{r.error()};
    o.max_rate = *r;
  }
  if (auto spool = pick(file.live_spool_max, flags.live_spool_max)) {
    auto bytes = core::ParseSize(*spool);
    if (!bytes) return Unexpected{bytes.error()};
    o.live_spool_max = *bytes;
  }
  o.name = pick(file.name, flags.name).value_or("");
  o.sign_key = pick(file.sign_key, flags.sign_key).value_or("");
  o.tls.cert_file = pick(file.tls_cert, flags.tls_cert).value_or("");
  o.tls.key_file = pick(file.tls_key, flags.tls_key).value_or("");
  o.access_key_file =
      pick(file.access_key_file, flags.access_key_file).value_or("");
  o.director_token_file =
      pick(file.director_token_file, flags.director_token_file).value_or("");
  o.metalinks = pick(file.metalinks, flags.metalinks).value_or("");
  if (auto m = pick(file.metrics, flags.metrics); m && *m != "off") {
    auto hp = core::ParseHostPort(*m, /*allow_zero=*/true);
    if (!hp) return MakeError(Errc::kMalformed, "metrics: " + hp.error().what);
    o.metrics = hp->ToString();
  }
  o.mirrors = flags.mirrors.empty() ? file.mirrors : flags.mirrors;
  if (auto s = CheckMetalinks(&o); !s) return Unexpected{s.error()};
  auto address = [](const std::optional<std::string>& v, const char* what,
                    std::optional<core::HostPort>* out) -> Status {
    if (!v) return Ok{};
    if (*v == "off") {
      out->reset();
      return Ok{};
    }
    auto hp = core::ParseHostPort(*v, /*allow_zero=*/false);
    if (!hp)
      return MakeError(Errc::kMalformed, what + (": " + hp.error().what));
    *out = *hp;
    return Ok{};
  };
  if (auto d = pick(file.director, flags.director); d && *d != "off") {
    auto list = core::ParseHostPortList(*d);
    if (!list)
      return MakeError(Errc::kMalformed, "director: " + list.error().what);
    o.directors = std::move(*list);
  }
  if (auto s = address(pick(file.advertise, flags.advertise), "advertise",
                       &o.advertise);
      !s)
    return Unexpected{s.error()};
  if (auto s = address(pick(file.discovery, flags.discovery), "discovery",
                       &o.discovery);
      !s)
    return Unexpected{s.error()};
  if (!o.director_token_file.empty() && o.directors.empty()) {
    return MakeError(Errc::kMalformed,
                     "a director token file without a director (--director)");
  }
  for (const auto* list : {&file.live, &flags.live}) {
    std::set<std::string> seen;
    for (const auto& item : *list) {
      if (!seen.insert(item.substr(0, item.find('='))).second) {
        return MakeError(
            Errc::kMalformed,
            "live stream '" + item.substr(0, item.find('=')) + "' given twice");
      }
      if (auto st = ParseLive(item, &o); !st) return Unexpected{st.error()};
    }
  }
  if (o.discovery && o.discovery->host.empty()) {
    bool loopback = o.listen.host.rfind("127.", 0) == 0;
    o.discovery->host = loopback ? "127.255.255.255" : "0.0.0.0";
  }
  return o;
}

}  // namespace braid::server
