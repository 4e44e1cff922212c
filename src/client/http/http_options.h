// How HTTP(S) mirrors are asked: what the command line's --header, --user,
// --proxy, --cacert, ... set for every request.
#ifndef BRAID_CLIENT_HTTP_HTTP_OPTIONS_H_
#define BRAID_CLIENT_HTTP_HTTP_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

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
  std::vector<std::string> headers;  // "Name: value", on every request
  std::string user_agent;            // empty: "braid/0.1"
  std::string user;                  // "NAME:PASSWORD"; empty: none
  // Credentials by host from a .netrc file: netrc_file, or ~/.netrc when
  // it is empty. A `user` given takes precedence.
  bool netrc = false;
  std::string netrc_file;
  // "http://HOST:PORT", "socks5h://HOST:PORT", ...; empty: the environment's
  // (http_proxy, https_proxy, all_proxy, no_proxy), as curl does.
  std::string proxy;
  size_t connections = 2;  // most connections to the mirror's host at once
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_HTTP_HTTP_OPTIONS_H_
