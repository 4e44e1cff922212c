// How a relay's registration is kept in the catalog (patent FIG. 11: the
// director knows the routes to a source). A relay that may reach origin
// O holds the entry "/route/O": a name no stream can have (stream names
// never start with '/'), of size 0 and a content id no other entry
// shares. Every store then keeps relays as it keeps servers: in SQLite or
// under an etcd lease, with the same heartbeats, expiry and limits; the
// relays to O are the holders of "/route/O".
#ifndef BRAID_DIRECTOR_ROUTE_NAMES_H_
#define BRAID_DIRECTOR_ROUTE_NAMES_H_

#include <optional>
#include <string>
#include <string_view>

#include "core/manifest.h"

namespace braid::director {

std::string RouteName(std::string_view origin);
// The origin of a route entry's name; nullopt for a stream's name.
std::optional<std::string_view> RouteOrigin(std::string_view name);
// SHA-256 of "braid route " and origin.
core::Digest RouteContentId(std::string_view origin);
// Whether name is a stream's (CheckStreamName) or a route's to an origin
// "host:port" (ParseHostPort).
bool ValidEntryName(std::string_view name);

}  // namespace braid::director

#endif  // BRAID_DIRECTOR_ROUTE_NAMES_H_
