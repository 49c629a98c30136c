#include "sqlite.h"

#include <thread>

namespace lbd::shop {

namespace {

[[noreturn]] void Throw(sqlite3* db, int rc, std::string_view context) {
  std::string what(context);
  what += ": ";
  what += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw SqliteError(rc, what);
}

}  // namespace

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) Throw(db, rc, "prepare");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) Throw(db_, rc, "bind");
  return *this;
}

Statement& Statement::Bind(int index, std::string_view value) {
  int rc = sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                             SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) Throw(db_, rc, "bind");
  return *this;
}

bool Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Throw(db_, rc, "step");
}

void Statement::Run() {
  while (Step()) {
  }
}

void Statement::Reset() { sqlite3_reset(stmt_); }

int64_t Statement::ColumnInt(int index) const { return sqlite3_column_int64(stmt_, index); }

std::string Statement::ColumnText(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  int bytes = sqlite3_column_bytes(stmt_, index);
  return text ? std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(bytes))
              : std::string();
}

bool Statement::ColumnIsNull(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

std::unique_ptr<Database> Database::Open(const std::string& path,
                                         std::chrono::milliseconds busy_timeout) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  // sqlite3_open_v2 allocates a handle even on failure; it must be closed either way.
  std::unique_ptr<Database> db(new Database(raw));
  if (rc != SQLITE_OK) Throw(raw, rc, "open " + path);
  sqlite3_busy_timeout(raw, static_cast<int>(busy_timeout.count()));
  // Switching to WAL needs a brief exclusive lock; instances starting together on a fresh file
  // can see SQLITE_BUSY here despite the busy handler, so retry within the same budget.
  auto deadline = std::chrono::steady_clock::now() + busy_timeout;
  while (true) {
    try {
      Statement mode(raw, "PRAGMA journal_mode=WAL");
      if (mode.Step() && mode.ColumnText(0) != "wal") {
        throw SqliteError(SQLITE_ERROR, "journal_mode=WAL refused for " + path);
      }
      break;
    } catch (const SqliteError& e) {
      if (e.code() != SQLITE_BUSY && e.code() != SQLITE_LOCKED) throw;
      if (std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  // NORMAL is durable across application crashes in WAL mode (only an OS crash may lose the
  // last transactions), which is the right trade for a demo shop.
  db->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  return db;
}

Database::~Database() { sqlite3_close_v2(db_); }

void Database::Exec(std::string_view sql) {
  std::string copy(sql);
  char* message = nullptr;
  int rc = sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string what = "exec: ";
    what += message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw SqliteError(rc, what);
  }
}

WriteTransaction::WriteTransaction(Database& db) : db_(db) { db_.Exec("BEGIN IMMEDIATE"); }

WriteTransaction::~WriteTransaction() {
  if (done_) return;
  try {
    db_.Exec("ROLLBACK");
  } catch (const SqliteError&) {
    // Already rolled back by SQLite itself (some errors abort the transaction).
  }
}

void WriteTransaction::Commit() {
  db_.Exec("COMMIT");
  done_ = true;
}

ConnectionPool::Lease ConnectionPool::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Database> db = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(db));
    }
  }
  return Lease(this, Database::Open(path_, busy_timeout_));
}

void ConnectionPool::Release(std::unique_ptr<Database> db) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(db));
}

}  // namespace lbd::shop
