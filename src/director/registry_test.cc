#include "director/registry.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <utility>

#include "core/live_stream_id.h"
#include "director/memory_catalog.h"

namespace braid::director {
namespace {

using namespace std::chrono_literals;
using Clock = Registry::Clock;

const Clock::time_point kT0{};

core::Digest Id(uint8_t b) {
  core::Digest d{};
  d.fill(b);
  return d;
}

core::Register Reg(std::string address, std::vector<core::CatalogItem> items,
                   uint8_t flags = core::Register::kFirst |
                                   core::Register::kLast) {
  return core::Register{flags, std::move(address), std::move(items), ""};
}

core::Register Relay(std::string address, std::vector<std::string> origins) {
  std::vector<core::CatalogItem> items;
  for (auto& o : origins) items.push_back({std::move(o), 0, {}});
  return Reg(
      std::move(address), std::move(items),
      core::Register::kFirst | core::Register::kLast | core::Register::kRelay);
}

core::Lookup Ask(std::string name, bool subscribe = false) {
  core::Lookup l;
  l.name = std::move(name);
  l.subscribe = subscribe;
  return l;
}

std::vector<std::string> Servers(const core::Sources& s) {
  std::vector<std::string> out;
  for (const auto& i : s.sources) out.push_back(i.server);
  return out;
}

// A store shared with other directors: they announce its changes.
class SharedCatalog : public MemoryCatalog {
 public:
  bool shared() const override { return true; }
  void Start(OnChange on_change) override { announce = std::move(on_change); }
  OnChange announce;
};

class RegistryTest : public ::testing::Test {
 protected:
  explicit RegistryTest(std::unique_ptr<Store> store = nullptr)
      : store_(store ? store.get() : nullptr) {
    if (!store) store = std::make_unique<MemoryCatalog>();
    options_.heartbeat = 1s;
    options_.missed = 3;
    Make(std::move(store));
  }

  void Make(std::unique_ptr<Store> store) {
    registry_.emplace(options_, std::move(store), metrics_, kT0);
    registry_->Start(
        [this](const std::string& fresh) { changes_.push_back(fresh); });
  }

  // Registers `address` holding `items` whole, as connection `conn`.
  void Hold(Registry::ConnId conn, std::string address,
            std::vector<core::CatalogItem> items, Clock::time_point t = kT0) {
    auto r = Reg(std::move(address), std::move(items));
    auto done = registry_->Register(conn, r, t);
    ASSERT_TRUE(done) << done.error().ToString();
    ASSERT_TRUE(done->has_value());
  }

  Errc RegisterError(Registry::ConnId conn, core::Register r,
                     Clock::time_point t = kT0) {
    auto done = registry_->Register(conn, r, t);
    return done ? Errc::kOk : done.error().code;
  }

  std::vector<std::string> Holders(const std::string& name) {
    auto answer = registry_->Lookup(99, Ask(name));
    EXPECT_TRUE(answer);
    return answer ? Servers(*answer) : std::vector<std::string>{};
  }

  prometheus::Registry prometheus_;
  DirectorMetrics metrics_{prometheus_};
  RegistryOptions options_;
  Store* store_;
  std::optional<Registry> registry_;
  std::vector<std::string> changes_;
};

TEST_F(RegistryTest, ARegistrationInPartsCommitsOnItsLastPart) {
  auto first =
      Reg("10.0.0.1:7070", {{"a.bin", 5, Id(1)}}, core::Register::kFirst);
  auto done = registry_->Register(1, first, kT0);
  ASSERT_TRUE(done);
  EXPECT_FALSE(done->has_value());
  EXPECT_TRUE(Holders("a.bin").empty());  // nothing until the last part
  auto last =
      Reg("10.0.0.1:7070", {{"b.bin", 6, Id(2)}}, core::Register::kLast);
  done = registry_->Register(1, last, kT0 + 1s);
  ASSERT_TRUE(done);
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ((*done)->entries, 2u);
  EXPECT_EQ((*done)->heartbeat_ms, 1000u);
  EXPECT_EQ(Holders("a.bin"), std::vector<std::string>{"10.0.0.1:7070"});
  EXPECT_EQ(Holders("b.bin"), std::vector<std::string>{"10.0.0.1:7070"});
  EXPECT_TRUE(registry_->Registered(1));
  EXPECT_EQ(changes_, std::vector<std::string>{"10.0.0.1:7070"});
}

TEST_F(RegistryTest, PartsMustFollowAFirstPartInTime) {
  auto lone = Reg("10.0.0.1:7070", {}, core::Register::kLast);
  EXPECT_EQ(RegisterError(1, lone), Errc::kBadState);
  auto first = Reg("10.0.0.1:7070", {}, core::Register::kFirst);
  EXPECT_EQ(RegisterError(2, first), Errc::kOk);
  // Another address, or a relay's part, does not continue it.
  EXPECT_EQ(RegisterError(2, Reg("10.0.0.2:7070", {}, core::Register::kLast)),
            Errc::kBadState);
  EXPECT_EQ(RegisterError(3, first), Errc::kOk);
  auto relay_part =
      Reg("10.0.0.1:7070", {}, core::Register::kLast | core::Register::kRelay);
  EXPECT_EQ(RegisterError(3, relay_part), Errc::kBadState);
  EXPECT_EQ(RegisterError(4, first), Errc::kOk);
  EXPECT_EQ(RegisterError(4, lone, kT0 + options_.registration_time + 1s),
            Errc::kTimeout);
}

TEST_F(RegistryTest, BadEntriesAreRefusedWithTheirReason) {
  EXPECT_EQ(RegisterError(1, Reg("10.0.0.1:7070", {{"../x", 1, Id(1)}})),
            Errc::kMalformed);
  EXPECT_EQ(RegisterError(2, Reg("10.0.0.1:7070", {{"a\x1b[2J", 1, Id(1)}})),
            Errc::kMalformed);
  EXPECT_EQ(
      RegisterError(3, Reg("10.0.0.1:7070", {{"big", 1ull << 61, Id(1)}})),
      Errc::kMalformed);
  EXPECT_EQ(RegisterError(
                4, Reg("10.0.0.1:7070", {{"a", 1, Id(1)}, {"a", 1, Id(1)}})),
            Errc::kMalformed);
  EXPECT_EQ(RegisterError(5, Relay("10.0.0.9:7072", {"no port"})),
            Errc::kMalformed);
  EXPECT_TRUE(Holders("a").empty());
  EXPECT_TRUE(changes_.empty());
}

TEST_F(RegistryTest, BoundsAreLimits) {
  options_.max_names_per_server = 2;
  options_.max_servers = 1;
  options_.max_pending_bytes = 200;
  Make(std::make_unique<MemoryCatalog>());
  EXPECT_EQ(RegisterError(
                1, Reg("10.0.0.1:7070",
                       {{"a", 1, Id(1)}, {"b", 1, Id(2)}, {"c", 1, Id(3)}})),
            Errc::kLimit);
  std::string long_name(300, 'n');
  EXPECT_EQ(RegisterError(2, Reg("10.0.0.1:7070", {{long_name, 1, Id(1)}})),
            Errc::kLimit);
  Hold(3, "10.0.0.1:7070", {{"a", 1, Id(1)}});
  EXPECT_EQ(RegisterError(4, Reg("10.0.0.2:7070", {{"a", 1, Id(1)}})),
            Errc::kLimit);  // a second server
  const std::string text =
      prometheus::TextSerializer().Serialize(prometheus_.Collect());
  EXPECT_NE(text.find("names_per_server"), std::string::npos);
  EXPECT_NE(text.find("catalog_full"), std::string::npos);
}

TEST_F(RegistryTest, AnAddressBelongsToTheConnectionThatRegisteredIt) {
  Hold(1, "10.0.0.1:7070", {{"a", 1, Id(1)}});
  EXPECT_EQ(RegisterError(2, Reg("10.0.0.1:7070", {})), Errc::kBadState);
  EXPECT_EQ(RegisterError(1, Reg("10.0.0.3:7070", {})), Errc::kBadState);
  // Its holder updates it; once that connection closes, another may.
  Hold(1, "10.0.0.1:7070", {{"b", 1, Id(2)}});
  EXPECT_TRUE(Holders("a").empty());
  registry_->Release(1);
  EXPECT_TRUE(Holders("b").empty());
  Hold(2, "10.0.0.1:7070", {{"a", 1, Id(1)}});
  EXPECT_EQ(Holders("a"), std::vector<std::string>{"10.0.0.1:7070"});
}

TEST_F(RegistryTest, SilentServersExpireAndTheirConnectionsAreNamed) {
  Hold(1, "10.0.0.1:7070", {{"a", 1, Id(1)}});
  Hold(2, "10.0.0.2:7070", {{"a", 1, Id(1)}});
  registry_->Heard(2, kT0 + 2s);
  EXPECT_TRUE(registry_->Expire(kT0 + 3s).empty());
  EXPECT_EQ(registry_->Expire(kT0 + 4s), std::vector<Registry::ConnId>{1});
  EXPECT_EQ(Holders("a"), std::vector<std::string>{"10.0.0.2:7070"});
  EXPECT_FALSE(registry_->Registered(1));
  // Its connection closing later forgets nothing more.
  changes_.clear();
  registry_->Release(1);
  EXPECT_TRUE(changes_.empty());
  EXPECT_EQ(registry_->Expire(kT0 + 6s), std::vector<Registry::ConnId>{2});
}

TEST_F(RegistryTest, SubscribersAreOwedWhatChanges) {
  auto answer = registry_->Lookup(7, Ask("a", true));
  ASSERT_TRUE(answer);
  EXPECT_TRUE(answer->sources.empty());
  EXPECT_EQ(registry_->subscribers(), 1u);
  EXPECT_TRUE(registry_->Owed("").empty());  // nothing changed
  Hold(1, "10.0.0.1:7070", {{"a", 1, Id(1)}});
  auto owed = registry_->Owed(changes_.back());
  ASSERT_EQ(owed.size(), 1u);
  EXPECT_EQ(owed[0].first, 7u);
  EXPECT_EQ(Servers(owed[0].second), std::vector<std::string>{"10.0.0.1:7070"});
  EXPECT_TRUE(registry_->Owed("").empty());  // counted as sent
  // Another name's holder changes nothing for it.
  Hold(2, "10.0.0.2:7070", {{"b", 1, Id(2)}});
  EXPECT_TRUE(registry_->Owed("").empty());
  // A holder that comes back after an absence is announced again.
  EXPECT_EQ(registry_->Owed("10.0.0.1:7070").size(), 1u);
  registry_->Release(1);
  owed = registry_->Owed("");
  ASSERT_EQ(owed.size(), 1u);
  EXPECT_TRUE(owed[0].second.sources.empty());
  registry_->Release(7);
  EXPECT_EQ(registry_->subscribers(), 0u);
  Hold(3, "10.0.0.1:7070", {{"a", 1, Id(1)}});
  EXPECT_TRUE(registry_->Owed(changes_.back()).empty());
}

TEST_F(RegistryTest, RoutesComeWhenAskedOrWhenHoldersAreFew) {
  Hold(1, "10.0.0.1:7070", {{"a", 1, Id(1)}});
  auto relay = Relay("10.0.0.5:7072", {"10.0.0.1:7070", "10.0.0.8:7070"});
  ASSERT_TRUE(registry_->Register(2, relay, kT0));
  // The relay's route entries are no holders of anything.
  EXPECT_EQ(Holders("a"), std::vector<std::string>{"10.0.0.1:7070"});
  core::Lookup l = Ask("a");
  EXPECT_TRUE(registry_->Lookup(9, l)->routes.empty());
  l.routes_if_few = true;
  auto answer = registry_->Lookup(9, l);
  ASSERT_EQ(answer->routes.size(), 1u);
  EXPECT_EQ(answer->routes[0],
            (core::RouteItem{"10.0.0.5:7072", "10.0.0.1:7070"}));
  // Three holders are not few; asking for routes still gives them.
  Hold(3, "10.0.0.2:7070", {{"a", 1, Id(1)}});
  Hold(4, "10.0.0.3:7070", {{"a", 1, Id(1)}});
  EXPECT_TRUE(registry_->Lookup(9, l)->routes.empty());
  l.routes = true;
  EXPECT_EQ(registry_->Lookup(9, l)->routes.size(), 1u);
  // LIST: no route rows; the relays on the last part when asked.
  core::List list;
  auto parts = registry_->List(list, 1 << 20);
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 1u);
  ASSERT_EQ(parts->back().lines.size(), 1u);
  EXPECT_EQ(parts->back().lines[0].name, "a");
  EXPECT_TRUE(parts->back().relays.empty());
  list.relays = true;
  parts = registry_->List(list, 1 << 20);
  EXPECT_EQ(parts->back().relays.size(), 2u);
  // The relay's connection closes: its routes go.
  registry_->Release(2);
  EXPECT_TRUE(registry_->Lookup(9, l)->routes.empty());
}

TEST_F(RegistryTest, AnOriginSpelledAnotherWayIsARouteToItsHolder) {
  Hold(1, "10.0.0.1:7070", {{"a", 1, Id(1)}});
  auto relay = Relay("10.0.0.5:7072", {"[::ffff:10.0.0.1]:7070"});
  ASSERT_TRUE(registry_->Register(2, relay, kT0));
  core::Lookup l = Ask("a");
  l.routes = true;
  auto answer = registry_->Lookup(9, l);
  ASSERT_EQ(answer->routes.size(), 1u);
  EXPECT_EQ(answer->routes[0],
            (core::RouteItem{"10.0.0.5:7072", "10.0.0.1:7070"}));
  // Two spellings of one origin are one origin twice.
  EXPECT_EQ(RegisterError(
                3, Relay("10.0.0.6:7072", {"10.0.0.1:7070", "10.0.1:7070"})),
            Errc::kMalformed);
}

TEST_F(RegistryTest, AListComesInPartsTheLastMarked) {
  std::vector<core::CatalogItem> items;
  for (int i = 0; i < 10; ++i)
    items.push_back(
        {"file-" + std::to_string(i), 1, Id(static_cast<uint8_t>(i))});
  Hold(1, "10.0.0.1:7070", items);
  auto parts = registry_->List(core::List{}, 100);
  ASSERT_TRUE(parts);
  ASSERT_GT(parts->size(), 2u);
  size_t lines = 0;
  for (size_t i = 0; i < parts->size(); ++i) {
    EXPECT_EQ((*parts)[i].last, i + 1 == parts->size());
    lines += (*parts)[i].lines.size();
  }
  EXPECT_EQ(lines, 10u);
}

TEST_F(RegistryTest, ALiveStreamIsAnsweredWithoutItsEdge) {
  Hold(
      1, "10.0.0.1:7070",
      {{"cam", 123456, core::LiveStreamId("cam", false)}, {"file", 77, Id(1)}});
  auto answer = registry_->Lookup(9, Ask("cam"));
  ASSERT_EQ(answer->sources.size(), 1u);
  EXPECT_EQ(answer->sources[0].size, 0u);
  EXPECT_EQ(registry_->Lookup(9, Ask("file"))->sources[0].size, 77u);
}

TEST_F(RegistryTest, ABadNameIsNoLookup) {
  auto answer = registry_->Lookup(9, Ask("/etc/passwd"));
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, Errc::kForbiddenPath);
}

TEST_F(RegistryTest, ServersFromBeforeARestartHaveTheirGrace) {
  auto store = std::make_unique<MemoryCatalog>();
  ASSERT_TRUE(store->Register("10.0.0.1:7070", {{"a", 1, Id(1)}}));
  Make(std::move(store));
  EXPECT_EQ(Holders("a"), std::vector<std::string>{"10.0.0.1:7070"});
  EXPECT_TRUE(registry_->Expire(kT0 + 9s).empty());
  EXPECT_EQ(Holders("a"), std::vector<std::string>{"10.0.0.1:7070"});
  EXPECT_TRUE(changes_.empty());
  EXPECT_TRUE(registry_->Expire(kT0 + 14s).empty());  // no connection held it
  EXPECT_TRUE(Holders("a").empty());
  EXPECT_EQ(changes_, std::vector<std::string>{""});
}

class SharedRegistryTest : public RegistryTest {
 protected:
  SharedRegistryTest() : RegistryTest(std::make_unique<SharedCatalog>()) {}
  SharedCatalog& shared() { return *static_cast<SharedCatalog*>(store_); }
};

TEST_F(SharedRegistryTest, ASharedStoreAnnouncesItsOwnChanges) {
  Hold(1, "10.0.0.1:7070", {{"a", 1, Id(1)}});
  EXPECT_TRUE(changes_.empty());  // the store announces what it took
  ASSERT_TRUE(shared().announce);
  shared().announce("10.0.0.1:7070");
  EXPECT_EQ(changes_, std::vector<std::string>{"10.0.0.1:7070"});
}

// A store that loses the writes gathered since its last Flush, once.
class LosingCatalog : public MemoryCatalog {
 public:
  Expected<bool> Flush() override { return std::exchange(lose, false); }
  bool lose = false;
};

class LosingRegistryTest : public RegistryTest {
 protected:
  LosingRegistryTest() : RegistryTest(std::make_unique<LosingCatalog>()) {}
  LosingCatalog& store() { return *static_cast<LosingCatalog*>(store_); }
};

TEST_F(LosingRegistryTest, LostWritesMakeEveryServerRegisterAgain) {
  Hold(1, "10.0.0.1:7070", {{"a", 1, Id(1)}});
  Hold(2, "10.0.0.2:7070", {{"a", 1, Id(1)}});
  EXPECT_TRUE(registry_->Flush().empty());  // committed: nothing to do
  store().lose = true;
  auto close = registry_->Flush();
  EXPECT_EQ(close, (std::vector<Registry::ConnId>{1, 2}));
  // Nothing is answered that the store may not hold, and the two
  // registrations are gone from both sides: each server registers again.
  EXPECT_TRUE(Holders("a").empty());
  EXPECT_TRUE(store().Servers()->empty());
  EXPECT_FALSE(registry_->Registered(1));
  Hold(3, "10.0.0.1:7070", {{"a", 1, Id(1)}});
  EXPECT_EQ(Holders("a"), std::vector<std::string>{"10.0.0.1:7070"});
}

}  // namespace
}  // namespace braid::director
