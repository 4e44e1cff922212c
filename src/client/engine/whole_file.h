// A web server that ignores Range requests, when it is the only source:
// one plain GET of the whole file over one connection, written in order as
// it comes (no pattern, no parallel sources, no resume: those need ranges).
#ifndef BRAID_CLIENT_ENGINE_WHOLE_FILE_H_
#define BRAID_CLIENT_ENGINE_WHOLE_FILE_H_

#include <stop_token>

#include "client/engine/get.h"

namespace braid::client {

// Whether a transfer that failed with `error` may be done by FetchWholeFile:
// its one source is a mirror that answered 200 to a range request, and no
// range or live edge was asked.
bool CanFetchWhole(const GetOptions& options, const Error& error);

// GETs options.mirrors.front() whole into the output (or sink) that
// options name. The answer must be a 200 with a Content-Length; progress
// goes to options.on_progress; a stop requested ends it with kCancelled.
Expected<GetReport> FetchWholeFile(const GetOptions& options,
                                   std::stop_token stop);

// What FetchWholeFile would fetch: the size a HEAD of options.mirrors.front()
// states (a 200 with a Content-Length), with whole_only set.
Expected<Description> DescribeWholeFile(const GetOptions& options);

}  // namespace braid::client

#endif  // BRAID_CLIENT_ENGINE_WHOLE_FILE_H_
