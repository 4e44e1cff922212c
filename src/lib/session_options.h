// libbraid's options (braid/client.h) as the client engine takes them
// (client/engine/get.h): every text parsed and checked here, once.
#ifndef BRAID_LIB_SESSION_OPTIONS_H_
#define BRAID_LIB_SESSION_OPTIONS_H_

#include <braid/client.h>

#include "client/engine/get.h"

namespace braid::lib {

// kInvalidArgument naming the option that is wrong.
Expected<client::GetOptions> ToGetOptions(const SessionOptions& options);

// Adds what a fetch asks for (range, SHA-256, trace, callbacks) to a
// session's options.
Status AddFetchOptions(const FetchOptions& fetch, client::GetOptions* get);

}  // namespace braid::lib

#endif  // BRAID_LIB_SESSION_OPTIONS_H_
