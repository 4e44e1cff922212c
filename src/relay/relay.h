// `braid relay` (patent FIG. 11/12: routing servers 72): carries a client's
// connection to an origin over this machine's path. The client asks for an
// origin (ROUTE); if it is on the allow-list the relay connects to it,
// answers ROUTED and from then on forwards bytes both ways, so the request,
// the pattern and the data pass unchanged. Each direction holds at most one
// buffer: a slow reader on either side slows the other down (back-pressure
// end to end). Never an open proxy: without --allow it refuses everything.
#ifndef BRAID_RELAY_RELAY_H_
#define BRAID_RELAY_RELAY_H_

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/units.h"
#include "net/conn_limits.h"
#include "net/framed_conn.h"
#include "relay/relay_metrics.h"

namespace braid::relay {

struct RelayOptions {
  core::HostPort listen{"127.0.0.1", 7073};
  std::vector<core::HostPort> allow;  // origins it may connect to (expanded)
  size_t max_connections = 1024;
  // Routes from one client address. Below what an origin allows one peer
  // (64 for `braid serve`): every route reaches the origin from the relay's
  // address, so one client must not use up the origin's slots for it.
  size_t max_connections_per_peer = 16;
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds connect_timeout{5};
  // Both directions silent this long: the route is closed.
  std::chrono::seconds idle_timeout{120};
  size_t buffer_bytes = 256 * 1024;  // per direction
};

// The allow-list as clients will ask for it: each IP in its canonical
// spelling (the one a director names holders by), and beside each name the
// addresses it resolves to now (once: later changes of the name are not
// followed). Names that resolve to nothing are kept and go to *unresolved.
// resolve gives a name's addresses (SystemAddresses: getaddrinfo).
using ResolveName = std::function<std::vector<std::string>(const std::string&)>;
std::vector<std::string> SystemAddresses(const std::string& name);
std::vector<core::HostPort> ExpandAllowList(
    const std::vector<core::HostPort>& allow,
    std::vector<std::string>* unresolved,
    const ResolveName& resolve = SystemAddresses);

// Whether origin is on the allow-list (ExpandAllowList's): a name as
// written, an IP in any spelling.
bool Allowed(const std::vector<core::HostPort>& allow,
             const core::HostPort& origin);

class Relay {
 public:
  Relay(asio::io_context& io, RelayOptions options);

  Expected<tcp::endpoint> Listen();
  // Accepts routes until Stop().
  awaitable<void> Run();
  void Stop();
  // The registry that --metrics serves.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  struct Pipe;
  awaitable<void> Serve(tcp::socket client);
  // HELLO and ROUTE from the client; the connected origin.
  awaitable<Expected<tcp::socket>> Handshake(net::FramedConn& client);
  static awaitable<void> Pump(std::shared_ptr<Pipe> pipe, bool upstream);

  asio::io_context& io_;
  std::shared_ptr<prometheus::Registry> registry_ =
      std::make_shared<prometheus::Registry>();
  RelayMetrics metrics_{*registry_};
  RelayOptions options_;
  tcp::acceptor acceptor_;
  net::ConnLimits limits_;
};

}  // namespace braid::relay

#endif  // BRAID_RELAY_RELAY_H_
