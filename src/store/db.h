// store/db.h — the SQLite connection layer.  Owns opening the database (WAL mode, pragmas,
// durability setting), running the migrations compiled into the binary, the single writer
// connection (all writes are serialised through Database::write) and one reader
// connection per thread, each with a bounded LRU cache of prepared statements (Conn::prepare).  Only files in src/store/ include this header's implementation
// details (sqlite3.h); other modules see store/*.h APIs only.
//
// WAL checkpoints run on a background thread with their own connection, not in the commit
// that crossed the threshold (SQLite's default): copying pages back into the database file
// and its fsync were ~15% of the CPU of a Bundle POST.  The writer's commit only signals it
// (sqlite3_wal_hook); if the WAL still grows far beyond the threshold (the checkpointer cannot
// keep up, or cannot finish because of readers), the committing writer checkpoints itself.
//
// Group commit (Database::write, on unless DbOptions::group_commit is false): writes that
// arrive while a transaction is being applied or committed queue up; the thread whose
// request is at the head of the queue (the leader) runs the queued callbacks one after the
// other in one transaction on the writer connection, each after the first in its own
// SAVEPOINT (a failing callback rolls back alone and gets its own error; it sees the writes
// of the members before it), then one COMMIT (one fsync with durability power) acknowledges
// them all.  Members written as WriteKind::replayable (the plain prepared creates) skip that
// savepoint while every member before them in the transaction is replayable too: when one of
// them fails, the transaction is rolled back and the members before it are applied again in
// a new one (each replayable callback does the same writes when run again), so the failure
// still stays with its member.  A savepoint's sub-journal copies every page its member
// touches: ~14% of the instructions of a small create (callgrind, README Benchmarks).
// No write() returns before its transaction committed; a COMMIT failure fails every member.  A group is bounded by max_group_requests and max_group_bytes (bytes bound to
// statements by its members); a lone write is committed at once, as without grouping.
// Commit delay (DbOptions::commit_delay_us, 0 = off): when the previous group had more than one
// member (writers are arriving concurrently), a leader whose queue ran dry waits up to that
// long in all for more writes before its COMMIT, so that requests still being parsed on
// other threads share it (PostgreSQL's commit_delay, but only under concurrency: a lone
// writer never waits).
// Callbacks may run on another writer's thread (the leader): a callback must not rely on
// thread-local state of its caller, and side effects that assume the write is committed
// (caches, wake-ups, files) belong after write() returned ok, not inside the callback.
#pragma once
#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ef::store {

enum class Durability {
  process,  // default: a commit acknowledged with 2xx survives a crash of the process (WAL, synchronous=NORMAL)
  power,    // also survives power loss / OS crash (synchronous=FULL: fsync on every commit)
};

struct DbOptions {
  Durability durability = Durability::process;
  bool read_only = false;
  int busy_timeout_ms = 5000;
  bool group_commit = true;                 // config writer.group_commit
  size_t max_group_requests = 64;           // config writer.max_group_requests
  size_t max_group_bytes = 4 * 1024 * 1024; // config writer.max_group_bytes
  int commit_delay_us = 0;                  // config writer.commit_delay_us (see lead_group)
};

// Counters of the writer (Database::write_stats), for /metrics.  Histograms: counts[i] is the
// number of observations <= bounds[i] and > bounds[i-1]; the last entry is above every bound.
struct WriteStats {
  static constexpr std::array<double, 9> kGroupBounds{1, 2, 4, 8, 16, 32, 64, 128, 256};
  static constexpr std::array<double, 12> kCommitBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                        0.01,   0.025,   0.05,   0.1,   0.25,   1};
  uint64_t groups = 0;    // transactions committed (or failed at COMMIT) by write()
  uint64_t requests = 0;  // write() calls in them
  std::array<uint64_t, kGroupBounds.size() + 1> group_counts{};
  std::array<uint64_t, kCommitBounds.size() + 1> commit_counts{};
  double commit_seconds = 0;  // sum of the COMMIT statements' durations
};

// A prepared statement from a connection's cache.  Obtained reset and unbound.
// A statement that failed to prepare (SQLite refused the SQL: too deep, too many variables,
// a bug) holds no sqlite3_stmt and carries the error in status(): binds do nothing, step()
// returns false and leaves status() failed, run() returns it.  No SQLite call ever sees a
// null statement.
class Stmt {
 public:
  // `bytes`: the connection's counter of bytes bound (Conn::bound_bytes), or null.
  explicit Stmt(sqlite3_stmt* s, uint64_t* bytes = nullptr) : s_(s), bytes_(bytes) {}
  explicit Stmt(Status failed) : s_(nullptr), st_(std::move(failed)), prepare_error_(st_) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, int64_t(v)); }
  Stmt& bind(int i, double v);
  Stmt& bind(int i, std::string_view v);  // text (copied)
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind_blob(int i, std::string_view v);
  Stmt& bind_null(int i);
  // true: a row is available; false: done or error (then status() says which).
  bool step();
  // Runs to completion (for INSERT/UPDATE/DELETE).
  Status run();
  Status status() const { return st_; }
  int64_t int64(int col) const;
  double dbl(int col) const;
  std::string_view text(int col) const;  // also reads blobs
  bool is_null(int col) const;
  void reset();
  sqlite3_stmt* raw() const { return s_; }
  bool prepared() const { return s_ != nullptr; }

 private:
  friend class Conn;
  sqlite3_stmt* s_ = nullptr;
  uint64_t* bytes_ = nullptr;  // null for a statement that did not prepare
  Status st_;
  Status prepare_error_;  // kept across reset() for a statement that did not prepare
  uint64_t last_use_ = 0;  // Conn's LRU clock
};

class Conn {
 public:
  Conn(sqlite3* db) : db_(db) {}
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  // Prepared once per connection (cached by SQL text), returned reset and unbound.
  // Do not hold two uses of the same SQL at once.  When SQLite refuses the SQL, the returned
  // statement's status() is the error (Err::invalid "too complex" when a SQLite limit was
  // hit, Err::internal otherwise): check it before binding when the SQL is built from a
  // request; step() on it returns false with that status.
  // The cache is an LRU of at most kStmtCacheSize statements: a statement is finalised when
  // it is the least recently prepared and not in the middle of stepping, so a Stmt& stays
  // valid until kStmtCacheSize other distinct statements were prepared on this connection
  // (far more than any one operation holds at once).
  Stmt& prepare(const std::string& sql);
  static constexpr size_t kStmtCacheSize = 64;
  size_t cached_statements() const { return cache_.size(); }
  Status exec(const std::string& sql);  // one or more statements, no results
  int64_t last_insert_rowid() const;
  int changes() const;
  sqlite3* raw() const { return db_; }
  // Text and blob bytes bound to this connection's statements so far (the size of a write,
  // for the group bound).
  uint64_t bound_bytes() const { return bound_bytes_; }

 private:
  sqlite3* db_;
  uint64_t bound_bytes_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;
  uint64_t clock_ = 0;
  std::unique_ptr<Stmt> failed_;  // the last statement that did not prepare
  void evict();
};

class Database {
 public:
  // Opens (creating if missing) and migrates.  Errors name the file and the problem.
  static Result<std::unique_ptr<Database>> open(const std::string& path, const DbOptions& opt = {});
  ~Database();

  // Runs fn inside BEGIN IMMEDIATE ... COMMIT on the writer connection; rolls back fn's
  // writes when it returns a non-ok Status (or throws: the exception is rethrown here).
  // Writes from all threads are serialised here and, with group commit, share transactions
  // (see the top of this file): fn may run on another thread, and returns before the COMMIT.
  // Returns ok only once the transaction holding fn's writes committed.
  // With a write budget (set_write_budget_ms, the server's limits.max_write_ms), fn may hold
  // the writer that long: SQL still running past it is interrupted (progress handler), and a
  // callback that took longer is rolled back; both fail with Err::too_large naming the
  // limit, and nothing of it is written.  0 (the default, offline commands): no budget.
  // WriteKind::replayable: fn may be run again (after a ROLLBACK, in a new transaction) and
  // then does the same writes; everything else it does is redone or harmless (it sets its
  // outputs afresh).  In a group such members skip the savepoint while every member before
  // them is replayable too (see the top of this file).
  enum class WriteKind { general, replayable };
  Status write(const std::function<Status(Conn&)>& fn, WriteKind kind = WriteKind::general);
  void set_write_budget_ms(int ms) { write_budget_ms_ = ms; }
  // Group sizes and COMMIT durations so far; write() calls waiting to be applied now.
  WriteStats write_stats() const;
  size_t queued_writes() const;
  // The calling thread's read connection (opened lazily, kept for the thread's life).
  Conn& reader();
  // Run fn with the read connection inside one read transaction (consistent snapshot).
  Status read(const std::function<Status(Conn&)>& fn);

  const std::string& path() const { return path_; }
  int64_t size_bytes();
  Status checkpoint();  // WAL checkpoint (TRUNCATE), e.g. at shutdown
  // Background checkpoints run so far (PASSIVE, store/db.h) and checkpoints the writer had to
  // run itself because the WAL outgrew kWalForceFrames.
  uint64_t background_checkpoints() const;
  uint64_t forced_checkpoints() const;
  static constexpr int kWalCheckpointFrames = 1000;  // a commit past it wakes the checkpointer
  static constexpr int kWalRestartFrames = 4000;     // the next write waits for it (~16 MB WAL)
  static constexpr int kWalForceFrames = 20000;      // the commit checkpoints itself (~80 MB)
  // Frees the writer connection's page cache filled by migrations and start-up writes
  // (PRAGMA shrink_memory), e.g. before serving.
  Status release_memory();
  int schema_version() const { return schema_version_; }
  uint64_t id() const { return id_; }

 private:
  Database() = default;
  struct Checkpointer;  // db.cpp
  struct Pending;  // one write() call waiting in queue_ (db.cpp)
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int frames);
  Status write_alone(const std::function<Status(Conn&)>& fn);
  Status run_budgeted(const std::function<Status(Conn&)>& fn, Conn& c, std::exception_ptr* error);
  void lead_group();
  Status replay(const std::vector<Pending*>& applied, Conn& c);
  void wait_for_wal_restart();
  Status commit_timed(size_t members);
  std::string path_;
  DbOptions opt_;
  std::mutex write_mu_;  // the writer connection (taken by the leader for its whole group)
  mutable std::mutex queue_mu_;  // queue_, leading_ (taken after write_mu_, never before it)
  std::deque<Pending*> queue_;
  bool leading_ = false;  // a leader is running a group; the next one is promoted by it
  std::condition_variable arrived_;  // a write() joined queue_ while a leader is running
  size_t last_group_ = 0;  // members of the previous group (under write_mu_)
  mutable std::mutex stats_mu_;
  WriteStats stats_;
  std::unique_ptr<Conn> writer_;
  std::unique_ptr<Checkpointer> checkpointer_;  // declared after writer_: stopped first
  int wal_frames_ = 0;  // frames in the WAL after the last commit (under write_mu_)
  int write_budget_ms_ = 0;
  int64_t write_deadline_ns_ = 0;  // steady clock, under write_mu_ (0: none)
  bool write_interrupted_ = false;
  static int on_progress(void* self);
  int schema_version_ = 0;
  uint64_t id_ = 0;
};

// One migration compiled into the binary (see migrations.cpp).
struct Migration {
  int version;
  const char* name;
  const char* sql;
};
const std::vector<Migration>& migrations();

}  // namespace ef::store
