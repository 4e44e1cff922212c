// What every daemon (server, relay, director) does with its listening
// socket, in one place: accept until the acceptor is closed; refuse a
// connection past the limits (in all, or from its IP); serve the others,
// each on a coroutine of its own whose slot is released when it ends,
// however it ends.
#ifndef BRAID_NET_ACCEPT_LOOP_H_
#define BRAID_NET_ACCEPT_LOOP_H_

#include <functional>
#include <string>

#include "net/asio_util.h"
#include "net/conn_limits.h"
#include "net/log_failure.h"

namespace braid::net {

enum class ConnEvent { kAccepted, kRefused, kClosed };

struct AcceptHandlers {
  // A connection within the limits; `ip` is its peer's canonical IP.
  std::function<awaitable<void>(tcp::socket, std::string ip)> serve;
  // What a connection past them is told (an ERROR kLimit) before it is
  // closed.
  std::string refusal;
  // Told of each connection served, refused, and ended (metrics); may be
  // empty.
  std::function<void(ConnEvent)> observe;
};

// Accepts on `acceptor` until it is closed. Errors of accept itself
// (EMFILE ...) are logged and retried after 100 ms. `what` names the
// connections in the log ("session", "route"). REQUIRES: acceptor,
// limits and what observe refers to outlive every connection it started.
awaitable<void> AcceptLoop(tcp::acceptor& acceptor, ConnLimits& limits,
                           std::string what, AcceptHandlers handlers);

}  // namespace braid::net

#endif  // BRAID_NET_ACCEPT_LOOP_H_
