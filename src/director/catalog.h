// The content director's catalog: which servers hold which streams. Kept in
// SQLite so that it survives a restart: opening the same file again gives the
// same catalog. Schema (PRAGMA user_version 1): servers(id, address UNIQUE)
// and entries(server_id -> servers ON DELETE CASCADE, name, size, content_id),
// one entry per (server, name).
#ifndef BRAID_DIRECTOR_CATALOG_H_
#define BRAID_DIRECTOR_CATALOG_H_

#include <braid/expected.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "director/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace braid::director {

// Not thread-safe: use one Catalog from one thread at a time (statements are
// prepared once and reused, even by the const methods). Every SQLite failure
// is a kIoError whose message names the file and the operation.
class Catalog : public Store {
 public:
  // Opens or creates the database at `path` (":memory:" for a throw-away
  // one) and creates the schema if the database is new. Files use WAL with
  // synchronous=NORMAL. Fails (kIoError, one line naming `path`) if the file
  // cannot be opened, is not SQLite, or is another application's database.
  static Expected<std::unique_ptr<Catalog>> Open(const std::string& path);
  ~Catalog() override;  // closes the database
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // As Store says. Register runs in one transaction: on failure the
  // catalog is unchanged. The database stops a look-up at `limit`: its cost
  // does not grow with the names registered under one content id.
  Status Register(const std::string& server,
                  const std::vector<CatalogEntry>& entries) override;
  Expected<bool> Remove(const std::string& server) override;
  // Writes go into one transaction until this commits it (or
  // kBatchWrites of them do): each write is a savepoint in it, so a failed
  // one changes nothing, and this connection reads them all at once; other
  // connections, and the file after a crash, only once committed. A
  // failed COMMIT leaves the transaction open for the next Flush, unless
  // SQLite rolled it back (an I/O error, a full disk): then true.
  Expected<bool> Flush() override;
  Expected<std::vector<std::string>> Servers() const override;
  Expected<std::vector<CatalogEntry>> EntriesOf(
      const std::string& server) const override;
  Expected<std::vector<Holder>> Lookup(const std::string& name,
                                       size_t limit) const override;
  Expected<std::vector<CatalogRow>> List() const override;

 private:
  // The prepared statements; kSql in catalog.cc holds their text, in order.
  enum Query {
    kBegin,
    kCommit,
    kRollback,
    kSavepoint,
    kReleaseSavepoint,
    kRollbackToSavepoint,
    kUpsertServer,
    kClearEntries,
    kInsertEntry,
    kDeleteServer,
    kServers,
    kEntriesOf,
    kLookupNamed,
    kLookupOthers,
    kList,
    kQueryCount
  };
  struct CloseDb {
    void operator()(sqlite3* db) const;
  };
  struct Finalize {
    void operator()(sqlite3_stmt* stmt) const;
  };

  Catalog(std::string path, sqlite3* db);
  Status Init();
  Status CheckSchema();
  Status Exec(const char* sql, std::string_view op);
  Expected<int64_t> QueryInt(const char* sql, std::string_view op);
  Status Replace(const std::string& server,
                 const std::vector<CatalogEntry>& entries);
  Status Run(Query q, std::string_view op);
  // write() inside the open transaction (begun if none is), as a savepoint.
  Status Write(std::string_view op, const std::function<Status()>& write);
  // Commits the open transaction, if any; lost_ if SQLite rolled it back.
  Status Commit();
  // After a failed statement: whether SQLite ended the whole transaction.
  void NoteRollback();
  static constexpr int kBatchWrites = 10000;
  int batched_ = 0;    // writes in the open transaction
  bool lost_ = false;  // writes were rolled back since the last Flush
  sqlite3_stmt* Stmt(Query q) const { return stmts_[q].get(); }
  // kIoError naming the file, `op` and SQLite's message.
  Unexpected Fail(std::string_view op) const;

  const std::string path_;
  // Declared before the statements so that it is closed after they are
  // finalized.
  std::unique_ptr<sqlite3, CloseDb> db_;
  std::array<std::unique_ptr<sqlite3_stmt, Finalize>, kQueryCount> stmts_;
};

}  // namespace braid::director

#endif  // BRAID_DIRECTOR_CATALOG_H_
