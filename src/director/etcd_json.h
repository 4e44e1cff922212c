// etcd's v3 API as its JSON gateway speaks it (POST /v3/kv/range and the
// like; etcd 3.4): request bodies made and answers read, sans-IO. Keys and
// values travel base64-encoded, 64-bit integers as decimal strings, fields
// at their zero value are left out. A watch answers with one JSON object a
// line. Every answer is checked for an error object ({"error", "code",
// "message"}) first.
#ifndef BRAID_DIRECTOR_ETCD_JSON_H_
#define BRAID_DIRECTOR_ETCD_JSON_H_

#include <braid/expected.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace braid::director::etcd {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

struct RangeResult {
  int64_t revision = 0;  // the store's revision the answer was read at
  std::vector<KeyValue> kvs;
  bool more = false;  // cut at the limit: more keys follow the last one
};

// One change seen by a watch: a put of kv, or the deletion of kv.key.
struct WatchEvent {
  bool deleted = false;
  KeyValue kv;
};

// One line of a watch's answer.
struct WatchMessage {
  int64_t revision = 0;
  bool created = false;   // the watch is set up; events follow
  bool canceled = false;  // the watch ended (see compact_revision, reason)
  // Nonzero: the revision asked for was compacted away; the caller must
  // read everything again (from this revision on, history is kept).
  int64_t compact_revision = 0;
  std::string cancel_reason;
  std::vector<WatchEvent> events;
};

// One operation of a transaction without conditions.
struct TxnOp {
  enum class Kind { kPut, kDeleteRange };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;      // kPut
  int64_t lease = 0;      // kPut: 0 for none
  std::string range_end;  // kDeleteRange: [key, range_end)
};

// The first key after every key that starts with `prefix` (its range_end).
std::string PrefixEnd(std::string_view prefix);

// Keys [key, range_end) (just `key` when range_end is empty), at most
// `limit` (0: all), read at `revision` (0: the newest).
std::string RangeRequest(std::string_view key, std::string_view range_end,
                         int64_t limit, int64_t revision);
std::string TxnRequest(const std::vector<TxnOp>& ops);
std::string LeaseGrantRequest(int64_t ttl_seconds);
// For /v3/lease/keepalive and /v3/lease/revoke.
std::string LeaseIdRequest(int64_t id);
// Many leases kept alive in one request: the gateway takes one JSON object
// a line (the gRPC stream's messages) and answers one a line, in order.
std::string LeaseIdsRequest(const std::vector<int64_t>& ids);
// For /v3/auth/authenticate: a token for `user` (etcd's RBAC).
std::string AuthenticateRequest(std::string_view user,
                                std::string_view password);
// Events on [key, range_end) from start_revision on (0: from now).
std::string WatchCreateRequest(std::string_view key, std::string_view range_end,
                               int64_t start_revision);

// Errors: kUnavailable where etcd says it cannot serve now (no leader, a
// timeout), kNotFound for an unknown lease, kMalformed for an answer that
// is not what the gateway sends; each names "etcd" and what it said.
Expected<RangeResult> ParseRange(std::string_view body);
// The revision a write (put, delete, txn, revoke) was made at.
Expected<int64_t> ParseWriteRevision(std::string_view body);
struct LeaseGrant {
  int64_t id = 0;
  int64_t ttl_seconds = 0;
};
Expected<LeaseGrant> ParseLeaseGrant(std::string_view body);
// The token an authentication gave; errors as above (a wrong password:
// kIoError with etcd's words).
Expected<std::string> ParseAuthenticate(std::string_view body);
// The lease's time left after a keep-alive; 0: the lease is gone.
Expected<int64_t> ParseKeepAlive(std::string_view body);
// The answer to LeaseIdsRequest: (lease, time left; 0: gone) a line.
Expected<std::vector<std::pair<int64_t, int64_t>>> ParseKeepAlives(
    std::string_view body);
Expected<WatchMessage> ParseWatchLine(std::string_view line);

}  // namespace braid::director::etcd

#endif  // BRAID_DIRECTOR_ETCD_JSON_H_
