// co_spawn's completion for coroutines nobody waits for: what they threw is
// logged (asio::detached would drop it).
#ifndef BRAID_NET_LOG_FAILURE_H_
#define BRAID_NET_LOG_FAILURE_H_

#include <exception>
#include <functional>
#include <string>

namespace braid::net {

// For asio::co_spawn: logs an exception as "WHAT failed: ...".
std::function<void(std::exception_ptr)> LogFailure(std::string what);

}  // namespace braid::net

#endif  // BRAID_NET_LOG_FAILURE_H_
