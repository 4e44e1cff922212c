#include "director/director_metrics.h"

namespace braid::director {

using metrics::AddCounter;
using metrics::AddCounters;
using metrics::AddGauge;

DirectorMetrics::DirectorMetrics(prometheus::Registry& r)
    : connections(r, "braid_director"),
      registrations(AddCounter(r, "braid_director_registrations_total",
                               "Registrations taken (REGISTERED sent)")),
      removals(AddCounters(r, "braid_director_removals_total",
                           "Servers removed, by reason", "reason")),
      lookups(AddCounters(r, "braid_director_lookups_total",
                          "LOOKUPs answered, by result", "result")),
      lists(AddCounter(r, "braid_director_lists_total", "LISTs answered")),
      notifications(AddCounter(r, "braid_director_notifications_total",
                               "SOURCES sent to subscribers on a change")),
      servers(AddGauge(r, "braid_director_servers",
                       "Servers and relays registered through this director")),
      subscribers(AddGauge(r, "braid_director_subscribers",
                           "Clients subscribed to a name's holders")),
      stale(AddGauge(r, "braid_director_store_stale",
                     "1 while the shared store is unreachable and answers "
                     "are marked stale")),
      errors(AddCounters(r, "braid_director_errors_total",
                         "ERROR frames sent, by code", "code")),
      limits(AddCounters(r, "braid_director_limits_hit_total",
                         "Times a limit refused or cut a peer", "limit")) {}

}  // namespace braid::director
