#include "director/etcd_json.h"

#include <gtest/gtest.h>

namespace braid::director::etcd {
namespace {

TEST(EtcdJsonTest, PrefixEndIsTheFirstKeyAfterThePrefix) {
  EXPECT_EQ(PrefixEnd("/braid/"), "/braid0");
  EXPECT_EQ(PrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixEnd(std::string("\xff\xff", 2)), std::string(1, '\0'));
}

TEST(EtcdJsonTest, RequestsCarryKeysInBase64AndNumbersAsText) {
  EXPECT_EQ(
      RangeRequest("/braid/", "/braid0", 500, 7),
      R"({"key":"L2JyYWlkLw==","limit":"500","range_end":"L2JyYWlkMA==","revision":"7"})");
  EXPECT_EQ(RangeRequest("k", "", 0, 0), R"({"key":"aw=="})");
  EXPECT_EQ(LeaseGrantRequest(10), R"({"TTL":"10"})");
  EXPECT_EQ(LeaseIdRequest(-5), R"({"ID":"-5"})");
  EXPECT_EQ(
      WatchCreateRequest("a", "b", 12),
      R"({"create_request":{"key":"YQ==","range_end":"Yg==","start_revision":"12"}})");
  std::vector<TxnOp> ops(2);
  ops[0] = {TxnOp::Kind::kPut, "a", "v", 42, ""};
  ops[1] = {TxnOp::Kind::kDeleteRange, "b", "", 0, "c"};
  EXPECT_EQ(
      TxnRequest(ops),
      R"({"success":[{"request_put":{"key":"YQ==","lease":"42","value":"dg=="}},)"
      R"({"request_delete_range":{"key":"Yg==","range_end":"Yw=="}}]})");
}

// Answers as etcd 3.4's gateway wrote them.
TEST(EtcdJsonTest, ReadsARange) {
  auto r = ParseRange(
      R"({"header":{"cluster_id":"1","member_id":"2","revision":"9","raft_term":"2"},)"
      R"("kvs":[{"key":"L2JyYWlkL3g=","create_revision":"2","mod_revision":"3",)"
      R"("version":"1","value":"aGVsbG8=","lease":"77"}],"more":true,"count":"4"})");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->revision, 9);
  EXPECT_TRUE(r->more);
  ASSERT_EQ(r->kvs.size(), 1u);
  EXPECT_EQ(r->kvs[0].key, "/braid/x");
  EXPECT_EQ(r->kvs[0].value, "hello");
  EXPECT_EQ(r->kvs[0].create_revision, 2);
  EXPECT_EQ(r->kvs[0].mod_revision, 3);
  EXPECT_EQ(r->kvs[0].lease, 77);
  auto empty = ParseRange(R"({"header":{"revision":"1"}})");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->kvs.empty());
  EXPECT_FALSE(empty->more);
}

TEST(EtcdJsonTest, ReadsLeasesAndWrites) {
  auto g = ParseLeaseGrant(
      R"({"header":{"revision":"1"},"ID":"4111120459284412677","TTL":"2"})");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->id, 4111120459284412677);
  EXPECT_EQ(g->ttl_seconds, 2);
  EXPECT_EQ(ParseKeepAlive(
                R"({"result":{"header":{"revision":"2"},"ID":"5","TTL":"9"}})")
                .value(),
            9);
  // A lease that expired: no TTL.
  EXPECT_EQ(ParseKeepAlive(R"({"result":{"header":{"revision":"2"},"ID":"5"}})")
                .value(),
            0);
  EXPECT_EQ(
      ParseWriteRevision(R"({"header":{"revision":"3"},"succeeded":true})")
          .value(),
      3);
}

TEST(EtcdJsonTest, KeepsManyLeasesAliveInOneRequest) {
  EXPECT_EQ(LeaseIdsRequest({5, 6}), "{\"ID\":\"5\"}\n{\"ID\":\"6\"}\n");
  auto kept = ParseKeepAlives(
      R"({"result":{"header":{"revision":"2"},"ID":"5","TTL":"30"}})"
      "\n"
      R"({"result":{"header":{"revision":"2"},"ID":"6"}})"
      "\n");
  ASSERT_TRUE(kept) << kept.error().ToString();
  EXPECT_EQ(*kept, (std::vector<std::pair<int64_t, int64_t>>{{5, 30}, {6, 0}}));
  EXPECT_FALSE(ParseKeepAlives(R"({"result":{"header":{"revision":"2"}}})"));
  EXPECT_FALSE(ParseKeepAlives("garbage\n"));
}

TEST(EtcdJsonTest, ReadsWatchLines) {
  auto created = ParseWatchLine(
      R"({"result":{"header":{"revision":"2"},"created":true}})");
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->created);
  auto m = ParseWatchLine(
      R"({"result":{"header":{"revision":"5"},"events":[)"
      R"({"kv":{"key":"YQ==","create_revision":"4","mod_revision":"5","value":"dg=="}},)"
      R"({"type":"DELETE","kv":{"key":"Yg==","mod_revision":"5"}}]}})");
  ASSERT_TRUE(m) << m.error().ToString();
  ASSERT_EQ(m->events.size(), 2u);
  EXPECT_FALSE(m->events[0].deleted);
  EXPECT_EQ(m->events[0].kv.value, "v");
  EXPECT_TRUE(m->events[1].deleted);
  EXPECT_EQ(m->events[1].kv.key, "b");
  auto compacted = ParseWatchLine(
      R"({"result":{"header":{"revision":"9"},"canceled":true,"compact_revision":"6",)"
      R"("cancel_reason":"mvcc: required revision has been compacted"}})");
  ASSERT_TRUE(compacted);
  EXPECT_TRUE(compacted->canceled);
  EXPECT_EQ(compacted->compact_revision, 6);
}

TEST(EtcdJsonTest, AuthenticatesForAToken) {
  EXPECT_EQ(AuthenticateRequest("braid", "p\"w"),
            R"({"name":"braid","password":"p\"w"})");
  auto token = ParseAuthenticate(
      R"({"header":{"revision":"1"},"token":"CVIZGwfdmBFIgPNJ.14"})");
  ASSERT_TRUE(token);
  EXPECT_EQ(*token, "CVIZGwfdmBFIgPNJ.14");
  // What etcd 3.4 answers a wrong password.
  auto refused = ParseAuthenticate(
      R"({"error":"etcdserver: authentication failed, invalid user ID or )"
      R"(password","message":"etcdserver: authentication failed, invalid )"
      R"(user ID or password","code":3})");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().what.find("invalid user ID or password"),
            std::string::npos);
  EXPECT_FALSE(ParseAuthenticate(R"({"header":{}})"));
  EXPECT_FALSE(ParseAuthenticate(R"({"token":""})"));
  EXPECT_FALSE(ParseAuthenticate(R"({"token":7})"));
}

TEST(EtcdJsonTest, ErrorsAndGarbageAreErrors) {
  auto gone = ParseKeepAlive(
      R"({"error":"etcdserver: requested lease not found","message":"x","code":5})");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, Errc::kNotFound);
  EXPECT_NE(gone.error().what.find("lease not found"), std::string::npos);
  auto no_leader = ParseRange(R"({"error":"etcdserver: no leader","code":14})");
  ASSERT_FALSE(no_leader);
  EXPECT_EQ(no_leader.error().code, Errc::kUnavailable);
  for (const char* bad :
       {"", "[]", "{", R"({"header":{}})", R"({"header":{"revision":"x"}})",
        R"({"header":{"revision":"1"},"kvs":[{"key":"not base64!"}]})",
        R"({"header":{"revision":"1"},"kvs":{}})"}) {
    auto r = ParseRange(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::kMalformed) << bad;
  }
  EXPECT_FALSE(ParseWatchLine(R"({"result":{"events":[{"kv":{}}]}})"));
  EXPECT_FALSE(ParseLeaseGrant(R"({"header":{"revision":"1"}})"));
}

}  // namespace
}  // namespace braid::director::etcd
