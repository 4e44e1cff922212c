#include "director/catalog.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <limits>
#include <tuple>
#include <utility>

namespace braid::director {
namespace {

constexpr int64_t kSchemaVersion = 1;

// Run once, inside the transaction that finds the database empty. The CHECKs
// let the readers trust what they read back.
constexpr const char* kSchema = R"sql(
CREATE TABLE servers(id INTEGER PRIMARY KEY, address TEXT UNIQUE NOT NULL);
CREATE TABLE entries(
  server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  size INTEGER NOT NULL CHECK(size >= 0),
  content_id BLOB NOT NULL CHECK(length(content_id) = 32),
  PRIMARY KEY(server_id, name));
CREATE INDEX entries_name ON entries(name);
CREATE INDEX entries_content_id ON entries(content_id);
PRAGMA user_version = 1;  -- kSchemaVersion
)sql";

// Indexed by Catalog::Query. TEXT compares as memcmp (BINARY) and BLOB too,
// so ORDER BY agrees with std::string and core::Digest ordering.
constexpr const char* kSql[] = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT write",
    "RELEASE write",
    "ROLLBACK TO write",
    "INSERT INTO servers(address) VALUES(?1) ON CONFLICT(address) DO UPDATE "
    "SET address = excluded.address RETURNING id",
    "DELETE FROM entries WHERE server_id = ?1",
    "INSERT INTO entries(server_id, name, size, content_id) "
    "VALUES(?1, ?2, ?3, ?4)",
    "DELETE FROM servers WHERE address = ?1",
    "SELECT address FROM servers ORDER BY address",
    "SELECT e.name, e.size, e.content_id FROM entries e "
    "JOIN servers s ON s.id = e.server_id WHERE s.address = ?1 "
    "ORDER BY e.name",
    // At most one row per server: (server_id, name) is the key.
    "SELECT s.address, e.name, e.size, e.content_id FROM entries e "
    "JOIN servers s ON s.id = e.server_id WHERE e.name = ?1 "
    "ORDER BY e.content_id, s.address LIMIT ?2",
    // In the order of the content id index (rowid: the order registered),
    // so that LIMIT stops the walk: no sort of every holder.
    "SELECT s.address, e.name, e.size, e.content_id FROM entries e "
    "JOIN servers s ON s.id = e.server_id WHERE e.content_id IN "
    "(SELECT content_id FROM entries WHERE name = ?1) AND e.name != ?1 "
    "ORDER BY e.content_id, e.rowid LIMIT ?2",
    "SELECT name, size, content_id, count(*) FROM entries "
    "GROUP BY name, size, content_id ORDER BY name, content_id, size",
};

// Resets a reused statement and drops its bindings when the use ends.
class Reset {
 public:
  explicit Reset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Reset(const Reset&) = delete;
  Reset& operator=(const Reset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// The text stays owned by the caller until the statement is reset.
int BindText(sqlite3_stmt* stmt, int i, const std::string& s) {
  return sqlite3_bind_text64(stmt, i, s.data(), s.size(), SQLITE_STATIC,
                             SQLITE_UTF8);
}

int BindDigest(sqlite3_stmt* stmt, int i, const core::Digest& d) {
  return sqlite3_bind_blob(stmt, i, d.data(), d.size(), SQLITE_STATIC);
}

std::string ColumnText(sqlite3_stmt* stmt, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
  return p ? std::string(p, sqlite3_column_bytes(stmt, col)) : std::string();
}

core::Digest ColumnDigest(sqlite3_stmt* stmt, int col) {
  core::Digest d{};
  const void* p = sqlite3_column_blob(stmt, col);
  size_t n = std::min<size_t>(sqlite3_column_bytes(stmt, col), d.size());
  if (p) std::memcpy(d.data(), p, n);
  return d;
}

uint64_t ColumnSize(sqlite3_stmt* stmt, int col) {
  return static_cast<uint64_t>(sqlite3_column_int64(stmt, col));
}

// Binds `key` (if any) to ?1 and appends read(stmt) of every row to *out;
// returns the final code, SQLITE_DONE on success. The caller resets `stmt`
// once it has read the error.
template <class T, class F>
int Collect(sqlite3_stmt* stmt, const std::string* key, F read,
            std::vector<T>* out) {
  int rc = key ? BindText(stmt, 1, *key) : SQLITE_OK;
  if (rc != SQLITE_OK) return rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) out->push_back(read(stmt));
  return rc;
}

}  // namespace

void Catalog::CloseDb::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void Catalog::Finalize::operator()(sqlite3_stmt* s) const {
  sqlite3_finalize(s);
}

Catalog::Catalog(std::string path, sqlite3* db)
    : path_(std::move(path)), db_(db) {}
Catalog::~Catalog() {
  if (db_ && stmts_[kCommit]) (void)Flush();
}

Expected<std::unique_ptr<Catalog>> Catalog::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  std::unique_ptr<Catalog> catalog(new Catalog(path, db));  // owns db anyway
  if (rc != SQLITE_OK) return catalog->Fail("open");
  if (Status s = catalog->Init(); !s) return Unexpected{s.error()};
  return catalog;
}

Status Catalog::Init() {
  sqlite3_busy_timeout(db_.get(), 5000);
  if (Status s = Exec("PRAGMA foreign_keys = ON", "open"); !s) return s;
  // Read and create the schema in one transaction, so that two processes
  // opening a new file do not both create it.
  Status s = Exec("BEGIN IMMEDIATE", "open");
  if (s) s = CheckSchema();
  if (s) s = Exec("COMMIT", "create schema");
  if (!s) {
    if (!sqlite3_get_autocommit(db_.get()))
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    return s;
  }
  // Only now: a foreign database must not be switched to WAL. An in-memory
  // database ignores the request.
  s = Exec("PRAGMA journal_mode = WAL", "set WAL");
  if (s) s = Exec("PRAGMA synchronous = NORMAL", "set synchronous");
  // The indexes of a million names are ~100 MiB; each write touches pages
  // all over them, which SQLite's default 2 MiB cache reads again each
  // time (measured: docs/benchmarks.md, "The director at scale").
  if (s) s = Exec("PRAGMA cache_size = -65536", "set cache size");
  if (!s) return s;
  static_assert(std::size(kSql) == kQueryCount);
  for (int q = 0; q < kQueryCount; ++q) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), kSql[q], -1,
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    stmts_[q].reset(stmt);
    if (rc != SQLITE_OK) return Fail("prepare");
  }
  return Ok{};
}

// An empty database gets the schema; anything but a version-1 catalog fails.
Status Catalog::CheckSchema() {
  auto version = QueryInt("PRAGMA user_version", "read schema version");
  if (!version) return Unexpected{version.error()};
  if (*version == kSchemaVersion) return Ok{};
  auto tables = QueryInt("SELECT count(*) FROM sqlite_schema", "read schema");
  if (!tables) return Unexpected{tables.error()};
  if (*version != 0 || *tables != 0) {
    return MakeError(Errc::kIoError,
                     "catalog " + path_ + ": not a braid catalog (version " +
                         std::to_string(*version) + ", " +
                         std::to_string(*tables) + " schema objects)");
  }
  return Exec(kSchema, "create schema");
}

Status Catalog::Exec(const char* sql, std::string_view op) {
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK)
    return Fail(op);
  return Ok{};
}

Expected<int64_t> Catalog::QueryInt(const char* sql, std::string_view op) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, Finalize> stmt(raw);
  if (rc != SQLITE_OK || sqlite3_step(raw) != SQLITE_ROW) return Fail(op);
  return sqlite3_column_int64(raw, 0);
}

Status Catalog::Run(Query q, std::string_view op) {
  Reset reset(Stmt(q));
  if (sqlite3_step(Stmt(q)) != SQLITE_DONE) return Fail(op);
  return Ok{};
}

Unexpected Catalog::Fail(std::string_view op) const {
  return MakeError(Errc::kIoError, "catalog " + path_ + ": " + std::string(op) +
                                       ": " + sqlite3_errmsg(db_.get()));
}

Status Catalog::Register(const std::string& server,
                         const std::vector<CatalogEntry>& entries) {
  constexpr auto kMaxSize = uint64_t{std::numeric_limits<int64_t>::max()};
  for (const CatalogEntry& e : entries) {
    if (e.size > kMaxSize) {
      return MakeError(Errc::kLimit, "catalog: " + server + " holds " + e.name +
                                         " of size " + std::to_string(e.size) +
                                         ", above 2^63-1");
    }
  }
  return Write("register " + server, [&] { return Replace(server, entries); });
}

Status Catalog::Write(std::string_view op,
                      const std::function<Status()>& write) {
  if (sqlite3_get_autocommit(db_.get())) {
    if (Status s = Run(kBegin, op); !s) return s;
    batched_ = 0;
  }
  if (Status s = Run(kSavepoint, op); !s) {
    NoteRollback();
    return s;
  }
  Status s = write();
  if (s) s = Run(kReleaseSavepoint, op);
  if (!s) {
    // This write alone is undone, unless SQLite ended the transaction.
    if (!sqlite3_get_autocommit(db_.get())) {
      (void)Run(kRollbackToSavepoint, op);
      (void)Run(kReleaseSavepoint, op);
    }
    NoteRollback();
    return s;
  }
  if (++batched_ >= kBatchWrites) return Commit();
  return Ok{};
}

void Catalog::NoteRollback() {
  if (!sqlite3_get_autocommit(db_.get())) return;  // still open
  // Writes of this transaction that succeeded before are gone with it.
  if (batched_ > 0) lost_ = true;
  batched_ = 0;
}

Status Catalog::Commit() {
  if (sqlite3_get_autocommit(db_.get())) return Ok{};
  Status s = Run(kCommit, "commit");
  if (!s) NoteRollback();  // or still open: the next Flush tries again
  if (s) batched_ = 0;
  return s;
}

Expected<bool> Catalog::Flush() {
  Status s = Commit();
  bool lost = std::exchange(lost_, false);
  if (!s && !lost) return Unexpected{s.error()};
  return lost;
}

// Inside Register's transaction.
Status Catalog::Replace(const std::string& server,
                        const std::vector<CatalogEntry>& entries) {
  const std::string op = "register " + server;
  sqlite3_int64 id = 0;
  {
    Reset reset(Stmt(kUpsertServer));
    if (BindText(Stmt(kUpsertServer), 1, server) != SQLITE_OK ||
        sqlite3_step(Stmt(kUpsertServer)) != SQLITE_ROW)
      return Fail(op);
    id = sqlite3_column_int64(Stmt(kUpsertServer), 0);
  }
  if (sqlite3_bind_int64(Stmt(kClearEntries), 1, id) != SQLITE_OK)
    return Fail(op);
  if (Status s = Run(kClearEntries, op); !s) return s;
  sqlite3_stmt* insert = Stmt(kInsertEntry);
  for (const CatalogEntry& e : entries) {
    Reset reset(insert);
    if (sqlite3_bind_int64(insert, 1, id) != SQLITE_OK ||
        BindText(insert, 2, e.name) != SQLITE_OK ||
        sqlite3_bind_int64(insert, 3, static_cast<int64_t>(e.size)) !=
            SQLITE_OK ||
        BindDigest(insert, 4, e.content_id) != SQLITE_OK ||
        sqlite3_step(insert) != SQLITE_DONE)
      return Fail(op + ", entry " + e.name);
  }
  return Ok{};
}

Expected<bool> Catalog::Remove(const std::string& server) {
  bool removed = false;
  Status s = Write("remove " + server, [&]() -> Status {
    if (BindText(Stmt(kDeleteServer), 1, server) != SQLITE_OK)
      return Fail("remove " + server);
    if (Status s = Run(kDeleteServer, "remove " + server); !s) return s;
    removed = sqlite3_changes(db_.get()) > 0;  // entries: ON DELETE CASCADE
    return Ok{};
  });
  if (!s) return Unexpected{s.error()};
  return removed;
}

Expected<std::vector<std::string>> Catalog::Servers() const {
  std::vector<std::string> out;
  Reset reset(Stmt(kServers));
  auto read = [](sqlite3_stmt* s) { return ColumnText(s, 0); };
  if (Collect(Stmt(kServers), nullptr, read, &out) != SQLITE_DONE)
    return Fail("list servers");
  return out;
}

Expected<std::vector<CatalogEntry>> Catalog::EntriesOf(
    const std::string& server) const {
  std::vector<CatalogEntry> out;
  Reset reset(Stmt(kEntriesOf));
  auto read = [](sqlite3_stmt* s) {
    return CatalogEntry{ColumnText(s, 0), ColumnSize(s, 1), ColumnDigest(s, 2)};
  };
  if (Collect(Stmt(kEntriesOf), &server, read, &out) != SQLITE_DONE)
    return Fail("entries of " + server);
  return out;
}

Expected<std::vector<Holder>> Catalog::Lookup(const std::string& name,
                                              size_t limit) const {
  std::vector<Holder> out;
  auto read = [](sqlite3_stmt* s) {
    return Holder{ColumnText(s, 0), ColumnText(s, 1), ColumnSize(s, 2),
                  ColumnDigest(s, 3)};
  };
  for (Query q : {kLookupNamed, kLookupOthers}) {
    if (out.size() >= limit) break;
    Reset reset(Stmt(q));
    auto left = static_cast<sqlite3_int64>(limit - out.size());
    if (sqlite3_bind_int64(Stmt(q), 2, left) != SQLITE_OK ||
        Collect(Stmt(q), &name, read, &out) != SQLITE_DONE)
      return Fail("look up " + name);
  }
  std::sort(out.begin(), out.end(), [](const Holder& a, const Holder& b) {
    return std::tie(a.content_id, a.server, a.path) <
           std::tie(b.content_id, b.server, b.path);
  });
  return out;
}

// count(*) counts servers: an entry's key is (server, name).
Expected<std::vector<CatalogRow>> Catalog::List() const {
  std::vector<CatalogRow> out;
  Reset reset(Stmt(kList));
  auto read = [](sqlite3_stmt* s) {
    return CatalogRow{ColumnText(s, 0), ColumnSize(s, 1), ColumnDigest(s, 2),
                      static_cast<uint32_t>(sqlite3_column_int64(s, 3))};
  };
  if (Collect(Stmt(kList), nullptr, read, &out) != SQLITE_DONE)
    return Fail("list");
  return out;
}

}  // namespace braid::director
