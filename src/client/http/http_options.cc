#include "client/http/http_options.h"

#include <algorithm>
#include <fstream>

#include "core/range_spec.h"
#include "core/units.h"

namespace braid::client {

bool CarriesCredentials(const HttpConnOptions& o, const Url& url) {
  return std::find(o.credential_origins.begin(), o.credential_origins.end(),
                   url.Origin()) != o.credential_origins.end();
}

bool IsCredentialHeader(std::string_view header) {
  std::string_view name = core::TrimOws(header.substr(0, header.find(':')));
  return core::EqualsNoCase(name, "authorization") ||
         core::EqualsNoCase(name, "cookie");
}

std::vector<std::string> CookieFileLines(const std::string& path) {
  std::vector<std::string> lines;
  if (path.empty()) return lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line[0] == '#' && !line.starts_with("#HttpOnly_")))
      continue;
    lines.push_back(std::move(line));
  }
  return lines;
}

std::vector<std::string> CookieLines(std::string_view cookies,
                                     std::string_view host) {
  std::vector<std::string> lines;
  while (!cookies.empty()) {
    size_t end = std::min(cookies.find(';'), cookies.size());
    std::string_view pair = core::TrimOws(cookies.substr(0, end));
    cookies.remove_prefix(std::min(end + 1, cookies.size()));
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    // domain, its subdomains (no), path, secure only (no), expiry (0: this
    // session), name, value.
    lines.push_back(std::string(host) + "\tFALSE\t/\tFALSE\t0\t" +
                    std::string(core::TrimOws(pair.substr(0, eq))) + "\t" +
                    std::string(core::TrimOws(pair.substr(eq + 1))));
  }
  return lines;
}

}  // namespace braid::client
