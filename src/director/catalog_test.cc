#include "director/catalog.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "director/memory_catalog.h"

namespace braid::director {
namespace {

namespace fs = std::filesystem;

core::Digest Id(uint8_t b) {
  core::Digest d{};
  d.fill(b);
  return d;
}

// "server path size id-byte", one per holder, for readable failures.
std::vector<std::string> Describe(const std::vector<Holder>& holders) {
  std::vector<std::string> out;
  for (const Holder& h : holders) {
    out.push_back(h.server + " " + h.path + " " + std::to_string(h.size) + " " +
                  std::to_string(h.content_id[0]));
  }
  return out;
}

// "name size id-byte xservers", one per row.
std::vector<std::string> Describe(const std::vector<CatalogRow>& rows) {
  std::vector<std::string> out;
  for (const CatalogRow& r : rows) {
    out.push_back(r.name + " " + std::to_string(r.size) + " " +
                  std::to_string(r.content_id[0]) + " x" +
                  std::to_string(r.servers));
  }
  return out;
}

// The stores that must answer alike: SQLite's, and the one in memory that
// a director sharing etcd answers from.
using MakeStore = std::unique_ptr<Store> (*)();

std::unique_ptr<Store> OpenSqlite() {
  auto catalog = Catalog::Open(":memory:");
  if (!catalog) ADD_FAILURE() << catalog.error().ToString();
  return catalog ? std::move(*catalog) : nullptr;
}

std::unique_ptr<Store> OpenMemory() {
  return std::make_unique<MemoryCatalog>();
}

class StoreTest : public testing::TestWithParam<MakeStore> {};

INSTANTIATE_TEST_SUITE_P(Stores, StoreTest,
                         testing::Values(&OpenSqlite, &OpenMemory),
                         [](const auto& info) {
                           return info.param == &OpenSqlite ? "Sqlite"
                                                            : "Memory";
                         });

// A fresh directory under the system temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "braid-catalog-XXXXXX");
    dir_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(dir_); }
  fs::path operator/(const char* name) const { return dir_ / name; }

 private:
  fs::path dir_;
};

TEST_P(StoreTest, RegistersLooksUpAndLists) {
  auto c = GetParam()();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Register("b:2", {{"x.bin", 10, Id(1)}}));
  ASSERT_TRUE(c->Register("a:1", {{"y.bin", 20, Id(2)}, {"x.bin", 10, Id(1)}}));

  EXPECT_EQ(*c->Servers(), (std::vector<std::string>{"a:1", "b:2"}));
  std::vector<CatalogEntry> want = {{"x.bin", 10, Id(1)}, {"y.bin", 20, Id(2)}};
  EXPECT_EQ(*c->EntriesOf("a:1"), want);
  EXPECT_TRUE(c->EntriesOf("nobody:1")->empty());
  EXPECT_EQ(Describe(*c->Lookup("x.bin", 100)),
            (std::vector<std::string>{"a:1 x.bin 10 1", "b:2 x.bin 10 1"}));
  EXPECT_TRUE(c->Lookup("z.bin", 100)->empty());
  EXPECT_EQ(Describe(*c->List()),
            (std::vector<std::string>{"x.bin 10 1 x2", "y.bin 20 2 x1"}));
}

TEST_P(StoreTest, ReRegisteringReplacesEverything) {
  auto c = GetParam()();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Register("a:1", {{"old", 1, Id(1)}, {"kept", 2, Id(2)}}));
  ASSERT_TRUE(c->Register("a:1", {{"kept", 3, Id(3)}, {"new", 4, Id(4)}}));
  std::vector<CatalogEntry> want = {{"kept", 3, Id(3)}, {"new", 4, Id(4)}};
  EXPECT_EQ(*c->EntriesOf("a:1"), want);
  EXPECT_TRUE(c->Lookup("old", 100)->empty());
  EXPECT_EQ(*c->Servers(), std::vector<std::string>{"a:1"});
}

TEST_P(StoreTest, EmptyRegistrationKeepsTheServerHoldingNothing) {
  auto c = GetParam()();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Register("a:1", {{"x", 1, Id(1)}}));
  ASSERT_TRUE(c->Register("a:1", {}));
  EXPECT_EQ(*c->Servers(), std::vector<std::string>{"a:1"});
  EXPECT_TRUE(c->EntriesOf("a:1")->empty());
  EXPECT_TRUE(c->List()->empty());
}

TEST_P(StoreTest, RemoveForgetsTheServerAndItsEntries) {
  auto c = GetParam()();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Register("a:1", {{"x", 1, Id(1)}, {"y", 2, Id(2)}}));
  ASSERT_TRUE(c->Register("b:2", {{"x", 1, Id(1)}}));
  EXPECT_EQ(c->Remove("a:1").value(), true);
  EXPECT_EQ(c->Remove("a:1").value(), false);
  EXPECT_EQ(c->Remove("never:1").value(), false);
  EXPECT_EQ(*c->Servers(), std::vector<std::string>{"b:2"});
  EXPECT_TRUE(c->EntriesOf("a:1")->empty());
  EXPECT_EQ(Describe(*c->List()), std::vector<std::string>{"x 1 1 x1"});
}

TEST_P(StoreTest, SameNameWithTwoContentIdsIsNeverMerged) {
  auto c = GetParam()();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Register("a:1", {{"movie", 5, Id(9)}}));
  ASSERT_TRUE(c->Register("b:2", {{"movie", 5, Id(3)}}));
  ASSERT_TRUE(c->Register("c:3", {{"movie", 5, Id(9)}}));
  EXPECT_EQ(Describe(*c->List()),
            (std::vector<std::string>{"movie 5 3 x1", "movie 5 9 x2"}));
  EXPECT_EQ(Describe(*c->Lookup("movie", 100)),
            (std::vector<std::string>{"b:2 movie 5 3", "a:1 movie 5 9",
                                      "c:3 movie 5 9"}));
}

TEST_P(StoreTest, LookupFindsTheSameContentUnderAnotherPath) {
  auto c = GetParam()();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Register("a:1", {{"films/a.mkv", 7, Id(5)}}));
  ASSERT_TRUE(c->Register("b:2", {{"copy.mkv", 7, Id(5)},
                                  {"films/a.mkv", 7, Id(5)},
                                  {"other.mkv", 8, Id(6)}}));
  EXPECT_EQ(Describe(*c->Lookup("films/a.mkv", 100)),
            (std::vector<std::string>{"a:1 films/a.mkv 7 5", "b:2 copy.mkv 7 5",
                                      "b:2 films/a.mkv 7 5"}));
}

// One server's many names for one content cannot crowd out the holders of
// the name asked, and the answer stops at the limit.
TEST_P(StoreTest, LookupStopsAtTheLimitHoldersOfTheNameFirst) {
  auto c = GetParam()();
  ASSERT_TRUE(c);
  std::vector<CatalogEntry> aliases;
  for (int i = 0; i < 1000; ++i)
    aliases.push_back({"alias" + std::to_string(1000 + i), 7, Id(5)});
  ASSERT_TRUE(c->Register("a:1", aliases));
  ASSERT_TRUE(c->Register("b:2", {{"x", 7, Id(5)}}));
  ASSERT_TRUE(c->Register("c:3", {{"x", 7, Id(5)}}));
  EXPECT_EQ(Describe(*c->Lookup("x", 4)),
            (std::vector<std::string>{"a:1 alias1000 7 5", "a:1 alias1001 7 5",
                                      "b:2 x 7 5", "c:3 x 7 5"}));
  EXPECT_EQ(Describe(*c->Lookup("x", 1)),
            std::vector<std::string>{"b:2 x 7 5"});
  EXPECT_EQ(c->Lookup("x", 5000)->size(), 1002u);
}

TEST_P(StoreTest, AFailedRegistrationChangesNothing) {
  auto c = GetParam()();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Register("a:1", {{"x", 1, Id(1)}}));
  auto dup = c->Register("a:1", {{"y", 2, Id(2)}, {"y", 3, Id(3)}});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, Errc::kIoError);
  auto huge = c->Register(
      "b:2", {{"z", uint64_t{std::numeric_limits<int64_t>::max()} + 1, Id(4)}});
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, Errc::kLimit);
  EXPECT_EQ(*c->Servers(), std::vector<std::string>{"a:1"});
  EXPECT_EQ(*c->EntriesOf("a:1"), (std::vector<CatalogEntry>{{"x", 1, Id(1)}}));
  // The largest size that fits round-trips.
  const uint64_t max = std::numeric_limits<int64_t>::max();
  ASSERT_TRUE(c->Register("b:2", {{"z", max, Id(4)}}));
  EXPECT_EQ(c->EntriesOf("b:2")->at(0).size, max);
}

// etcd's revisions rank registrations; two servers written in one
// transaction share one.
TEST(MemoryCatalogTest, ServersOfTheSameRankStayApart) {
  MemoryCatalog c;
  ASSERT_TRUE(c.Register("a:1", {{"x", 1, Id(1)}}, 7));
  ASSERT_TRUE(c.Register("b:2", {{"y", 1, Id(1)}}, 7));
  EXPECT_EQ(Describe(*c.Lookup("x", 10)),
            (std::vector<std::string>{"a:1 x 1 1", "b:2 y 1 1"}));
  ASSERT_TRUE(c.Remove("a:1").value());
  EXPECT_EQ(Describe(*c.Lookup("y", 10)),
            std::vector<std::string>{"b:2 y 1 1"});
  ASSERT_TRUE(c.Remove("b:2").value());
  EXPECT_TRUE(c.Lookup("y", 10)->empty());
  EXPECT_EQ(c.entry_count(), 0u);
}

TEST(CatalogTest, SurvivesReopeningTheFile) {
  TempDir dir;
  const std::string path = dir / "catalog.db";
  {
    auto c = Catalog::Open(path);
    ASSERT_TRUE(c) << c.error().ToString();
    ASSERT_TRUE((*c)->Register("a:1", {{"x", 1, Id(1)}, {"y", 2, Id(2)}}));
    ASSERT_TRUE((*c)->Register("b:2", {{"x", 1, Id(1)}}));
    ASSERT_TRUE((*c)->Register("c:3", {{"z", 3, Id(3)}}));
    ASSERT_TRUE((*c)->Remove("c:3").value());
    EXPECT_TRUE(fs::exists(path + "-wal"));  // WAL journal mode
  }
  auto c = Catalog::Open(path);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(*(*c)->Servers(), (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(Describe(*(*c)->List()),
            (std::vector<std::string>{"x 1 1 x2", "y 2 2 x1"}));
  EXPECT_EQ(Describe(*(*c)->Lookup("y", 100)),
            std::vector<std::string>{"a:1 y 2 2"});
}

// Servers in the file as another connection reads it: -1 on failure.
int ServersSeenBy(const std::string& path) {
  sqlite3* db = nullptr;
  int count = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM servers", -1, &stmt,
                           nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
      count = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return count;
}

void ExpectCommitted(Catalog& c) {
  auto lost = c.Flush();
  ASSERT_TRUE(lost) << lost.error().ToString();
  EXPECT_FALSE(*lost);
}

TEST(CatalogTest, WritesAreGatheredUntilFlushed) {
  TempDir dir;
  const std::string path = dir / "catalog.db";
  auto c = Catalog::Open(path);
  ASSERT_TRUE(c) << c.error().ToString();
  ASSERT_TRUE((*c)->Register("a:1", {{"x", 1, Id(1)}}));
  ASSERT_TRUE((*c)->Register("b:2", {{"x", 1, Id(1)}}));
  // This connection reads its writes at once; another once committed.
  EXPECT_EQ(*(*c)->Servers(), (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(ServersSeenBy(path), 0);
  ExpectCommitted(**c);
  EXPECT_EQ(ServersSeenBy(path), 2);
  // A failed write in a batch undoes itself alone.
  ASSERT_TRUE((*c)->Remove("a:1").value());
  ASSERT_FALSE((*c)->Register("b:2", {{"y", 2, Id(2)}, {"y", 3, Id(3)}}));
  EXPECT_EQ(*(*c)->Servers(), std::vector<std::string>{"b:2"});
  EXPECT_EQ(ServersSeenBy(path), 2);
  ExpectCommitted(**c);
  EXPECT_EQ(ServersSeenBy(path), 1);
  EXPECT_EQ(Describe(*(*c)->Lookup("x", 10)),
            std::vector<std::string>{"b:2 x 1 1"});
  ExpectCommitted(**c);  // nothing gathered: nothing to do
}

TEST(CatalogTest, RefusesAFileThatIsNotSqlite) {
  TempDir dir;
  const std::string path = dir / "garbage.db";
  std::ofstream(path) << std::string(4096, 'g') << "not a database";
  auto c = Catalog::Open(path);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::kIoError);
  EXPECT_NE(c.error().what.find(path), std::string::npos) << c.error().what;
  EXPECT_EQ(c.error().what.find('\n'), std::string::npos) << c.error().what;
}

TEST(CatalogTest, RefusesAnotherApplicationsDatabase) {
  TempDir dir;
  const std::string path = dir / "other.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto c = Catalog::Open(path);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::kIoError);
  EXPECT_NE(c.error().what.find(path), std::string::npos) << c.error().what;
  EXPECT_FALSE(fs::exists(path + "-wal"));  // left in its own journal mode
}

TEST(CatalogTest, RefusesAPathThatCannotBeOpened) {
  TempDir dir;
  const std::string path = dir / "no/such/dir/catalog.db";
  auto c = Catalog::Open(path);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::kIoError);
  EXPECT_NE(c.error().what.find(path), std::string::npos) << c.error().what;
}

}  // namespace
}  // namespace braid::director
