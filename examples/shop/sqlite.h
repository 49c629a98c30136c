// Internal to shopd: a thin RAII layer over the SQLite C API.
//
// A Database is one connection; it is not thread-safe (SQLite's default multi-thread mode: one
// connection must not be used by two threads at once). shopd keeps a pool of them, one per busy
// thread (see ConnectionPool). Errors throw SqliteError: SQLite reports failures from deep
// inside a statement and a request handler has only one useful reaction (roll back, answer
// 500/503), so the handler catches at its boundary instead of threading a status through
// every step.
#ifndef LBD_EXAMPLES_SHOP_SQLITE_H_
#define LBD_EXAMPLES_SHOP_SQLITE_H_

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lbd::shop {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  // The primary result code (SQLITE_BUSY, SQLITE_CONSTRAINT, ...).
  int code() const { return code_ & 0xFF; }

 private:
  int code_;
};

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in sqlite3_bind_*. Text is copied (SQLITE_TRANSIENT).
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view value);

  // Advances; true when a row is available, false when done. Throws on error.
  bool Step();
  // Steps to completion, ignoring rows.
  void Run();
  // Back to the first row, bindings kept.
  void Reset();

  // Columns are 0-based, valid after Step() returned true.
  int64_t ColumnInt(int index) const;
  std::string ColumnText(int index) const;
  bool ColumnIsNull(int index) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  // Opens (creating if needed) `path`, sets busy_timeout and WAL journaling, enables foreign
  // keys. Throws SqliteError.
  static std::unique_ptr<Database> Open(const std::string& path,
                                        std::chrono::milliseconds busy_timeout);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void Exec(std::string_view sql);
  Statement Prepare(std::string_view sql) { return Statement(db_, sql); }
  int64_t LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  sqlite3* handle() const { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// A write transaction begun with BEGIN IMMEDIATE: the write lock is taken up front, so two
// writers (threads or processes) queue on busy_timeout instead of one of them failing with
// SQLITE_BUSY when upgrading from a read lock. Rolls back unless Commit() was called.
class WriteTransaction {
 public:
  explicit WriteTransaction(Database& db);
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void Commit();

 private:
  Database& db_;
  bool done_ = false;
};

// Connections to one file, handed out one per caller. Thread-safe. Grows on demand; with shopd's
// synchronous handlers there are never more connections than server threads.
class ConnectionPool {
 public:
  ConnectionPool(std::string path, std::chrono::milliseconds busy_timeout)
      : path_(std::move(path)), busy_timeout_(busy_timeout) {}

  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Database> db) : pool_(pool), db_(std::move(db)) {}
    ~Lease() {
      if (db_) pool_->Release(std::move(db_));
    }
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    Database& operator*() const { return *db_; }
    Database* operator->() const { return db_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Database> db_;
  };

  // Throws SqliteError when a new connection cannot be opened.
  Lease Acquire();

 private:
  void Release(std::unique_ptr<Database> db);

  const std::string path_;
  const std::chrono::milliseconds busy_timeout_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Database>> idle_;  // guarded by mu_
};

}  // namespace lbd::shop

#endif  // LBD_EXAMPLES_SHOP_SQLITE_H_
