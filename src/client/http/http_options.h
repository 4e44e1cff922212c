// How HTTP(S) mirrors are asked: what the command line's --header, --user,
// --proxy, --cacert, ... set for every request.
#ifndef BRAID_CLIENT_HTTP_HTTP_OPTIONS_H_
#define BRAID_CLIENT_HTTP_HTTP_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "client/http/http_url.h"

namespace braid::client {

// How a mirror is asked, in curl's terms (the command line's --header,
// --user, --proxy, ...).
struct HttpConnOptions {
  std::chrono::milliseconds connect{5000};
  std::chrono::milliseconds read{30000};  // silence within a response
  // https: PEM authorities to trust (--cacert; empty: the file or
  // directory SSL_CERT_FILE, CURL_CA_BUNDLE or SSL_CERT_DIR names, else the
  // system's), or no certificate check at all (--insecure).
  std::string ca_file;
  bool insecure = false;
  // "Name: value", on every request (Authorization and Cookie only to
  // credential_origins).
  std::vector<std::string> headers;
  std::string user_agent;  // empty: "braid/0.1"
  std::string user;        // "NAME:PASSWORD"; empty: none
  // Credentials by host from a .netrc file: netrc_file, or ~/.netrc when
  // it is empty. A `user` given takes precedence.
  bool netrc = false;
  std::string netrc_file;
  // --cookie: "NAME=VALUE; NAME2=VALUE2" for the hosts of
  // credential_origins, and a cookie file (Netscape format, as curl and
  // browsers export them) whose own domains say where each cookie goes.
  std::string cookies;
  std::string cookie_file;
  // Where `user`, `cookies` and Authorization or Cookie headers go: the
  // origins ("https://host:port") of the mirrors the user named. A mirror
  // learned from the network (a Link field, a linked Metalink) or a
  // redirect to another origin gets none, as curl sends none to a
  // redirect's other host. .netrc and the cookie file match by host.
  std::vector<std::string> credential_origins;
  // "http://HOST:PORT", "socks5h://HOST:PORT", ...; empty: the environment's
  // (http_proxy, https_proxy, all_proxy, no_proxy), as curl does.
  std::string proxy;
  size_t connections = 2;  // most connections to the mirror's host at once
};

// Whether a request to url may carry the credentials (credential_origins).
bool CarriesCredentials(const HttpConnOptions& o, const Url& url);
// Whether a "Name: value" header is a credential (Authorization, Cookie).
bool IsCredentialHeader(std::string_view header);
// A cookie file's cookie lines (Netscape format, "#HttpOnly_" ones
// included; comments and blank lines left out), for the cookie engine; none
// if it cannot be read.
std::vector<std::string> CookieFileLines(const std::string& path);
// The cookies given as text, for the cookie engine: one Netscape-format
// line per NAME=VALUE, valid for `host` alone (not its subdomains), any
// path, this session. Pairs without '=' are left out.
std::vector<std::string> CookieLines(std::string_view cookies,
                                     std::string_view host);

}  // namespace braid::client

#endif  // BRAID_CLIENT_HTTP_HTTP_OPTIONS_H_
