// store/db.cpp — see db.h.  SQLite in WAL mode: one writer connection guarded by a
// mutex, the group-commit queue in front of it (a leader applies the queued writes in one
// transaction, db.h), one reader connection per thread (thread_local, keyed by database id).
#include "store/db.h"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <thread>

#include "util/log.h"

namespace ef::store {

namespace {
std::atomic<uint64_t> g_next_id{1};

Status sql_error(sqlite3* db, const std::string& what) {
  std::string msg = what + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
  int code = db ? sqlite3_errcode(db) : SQLITE_NOMEM;
  if (code == SQLITE_FULL) return Status(Err::unavailable, "database disk is full");
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) return Status(Err::unavailable, "database is busy");
  return Status(Err::internal, msg);
}

Result<sqlite3*> open_conn(const std::string& path, const DbOptions& opt, bool writer) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX;
  if (writer && !opt.read_only) flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  else flags |= SQLITE_OPEN_READONLY;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status st(Err::internal, "cannot open database '" + path + "': " + (db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close(db);
    return st;
  }
  sqlite3_busy_timeout(db, opt.busy_timeout_ms);
  sqlite3_extended_result_codes(db, 0);
  // Page cache: 8 MB for the writer, 2 MB for each reader thread (the OS page cache is
  // shared by all of them, so small per-connection caches keep the RSS low; a 64 MB writer
  // cache measured A/B on `edgefhir import` of Synthea was no faster).
  std::string pragmas = std::string("PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=") +
                        (writer ? "-8000;" : "-2000;");
  if (writer && !opt.read_only) {
    pragmas += "PRAGMA journal_mode=WAL;";
    pragmas += opt.durability == Durability::power ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;";
  }
  char* err = nullptr;
  if (sqlite3_exec(db, pragmas.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    Status st(Err::internal, "cannot configure database '" + path + "': " + (err ? err : "?"));
    sqlite3_free(err);
    sqlite3_close(db);
    return st;
  }
  return db;
}

// Set when this thread's ReaderSlot has been destroyed (thread exit, or process exit for the
// main thread, whose thread_locals die before static objects): a Database destroyed after
// that must not touch the slot.  A trivially destructible thread_local stays readable.
thread_local bool t_readers_gone = false;

struct ReaderSlot {
  std::map<uint64_t, std::unique_ptr<Conn>> conns;
  ~ReaderSlot() { t_readers_gone = true; }
};
thread_local ReaderSlot t_readers;

}  // namespace

// ---- Stmt ----
// Every method checks s_: a statement that did not prepare never reaches SQLite.
Stmt::~Stmt() {
  if (s_) sqlite3_finalize(s_);
}
Stmt& Stmt::bind(int i, int64_t v) {
  if (s_) sqlite3_bind_int64(s_, i, v);
  return *this;
}
Stmt& Stmt::bind(int i, double v) {
  if (s_) sqlite3_bind_double(s_, i, v);
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view v) {
  if (s_) sqlite3_bind_text(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
  if (bytes_) *bytes_ += v.size();
  return *this;
}
Stmt& Stmt::bind_blob(int i, std::string_view v) {
  if (s_) sqlite3_bind_blob(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
  if (bytes_) *bytes_ += v.size();
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  if (s_) sqlite3_bind_null(s_, i);
  return *this;
}
bool Stmt::step() {
  if (!s_) {
    st_ = prepare_error_;
    return false;
  }
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) st_ = sql_error(sqlite3_db_handle(s_), "query failed");
  return false;
}
Status Stmt::run() {
  while (step()) {
  }
  return st_;
}
int64_t Stmt::int64(int col) const { return s_ ? sqlite3_column_int64(s_, col) : 0; }
double Stmt::dbl(int col) const { return s_ ? sqlite3_column_double(s_, col) : 0; }
std::string_view Stmt::text(int col) const {
  if (!s_) return {};
  const void* p = sqlite3_column_blob(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  return p ? std::string_view(static_cast<const char*>(p), size_t(n)) : std::string_view();
}
bool Stmt::is_null(int col) const { return !s_ || sqlite3_column_type(s_, col) == SQLITE_NULL; }
void Stmt::reset() {
  if (!s_) {
    st_ = prepare_error_;
    return;
  }
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
  st_ = Status();
}

// ---- Conn ----
Conn::~Conn() {
  cache_.clear();
  failed_.reset();
  sqlite3_close_v2(db_);
}
Stmt& Conn::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->reset();
    it->second->last_use_ = ++clock_;
    return *it->second;
  }
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), int(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK || !s) {
    if (s) sqlite3_finalize(s);
    std::string msg = sqlite3_errmsg(db_);
    int code = sqlite3_errcode(db_);
    Status st;
    // SQLite's limits (expression depth, variables, statement length, terms): the SQL was
    // built from a request that is too complex; anything else is a bug in our SQL.
    if (code == SQLITE_TOOBIG || msg.find("too large") != std::string::npos || msg.find("too many") != std::string::npos ||
        msg.find("too big") != std::string::npos ||
        msg.find("stack overflow") != std::string::npos)
      st = Status(Err::invalid, "the request is too complex for the database (" + msg + ")");
    else if (code == SQLITE_NOMEM)
      st = Status(Err::unavailable, "out of memory preparing a statement");
    else
      st = Status(Err::internal, "cannot prepare a statement: " + msg);
    log::warn("store.prepare_failed", {{"error", msg}, {"sql", sql.substr(0, 200)}});
    failed_ = std::make_unique<Stmt>(std::move(st));
    return *failed_;
  }
  if (cache_.size() >= kStmtCacheSize) evict();
  auto& slot = cache_[sql];
  slot = std::make_unique<Stmt>(s, &bound_bytes_);
  slot->last_use_ = ++clock_;
  return *slot;
}
// Finalises least recently used statements until there is room for one more; a statement in
// the middle of stepping (sqlite3_stmt_busy: a caller is iterating its rows) is kept.
void Conn::evict() {
  while (cache_.size() >= kStmtCacheSize) {
    auto victim = cache_.end();
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->second->s_ && sqlite3_stmt_busy(it->second->s_)) continue;
      if (victim == cache_.end() || it->second->last_use_ < victim->second->last_use_) victim = it;
    }
    if (victim == cache_.end()) return;  // all busy: grow past the size for now
    cache_.erase(victim);
  }
}
Status Conn::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "?";
    sqlite3_free(err);
    int code = sqlite3_errcode(db_);
    if (code == SQLITE_FULL) return Status(Err::unavailable, "database disk is full");
    if (code == SQLITE_BUSY) return Status(Err::unavailable, "database is busy");
    return Status(Err::internal, "SQL failed: " + m);
  }
  return Status();
}
int64_t Conn::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Conn::changes() const { return sqlite3_changes(db_); }

// ---- Checkpointer: WAL checkpoints off the commit path (db.h) ----
struct Database::Checkpointer {
  Checkpointer(std::string path, DbOptions opt) : path(std::move(path)), opt(opt) {}
  ~Checkpointer() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    cv.notify_all();
    idle_cv.notify_all();
    if (th.joinable()) th.join();
    if (db) sqlite3_close_v2(db);
  }

  // From the writer's commit (wal hook): cheap, never waits for the checkpoint.
  void request() {
    std::lock_guard<std::mutex> lk(mu);
    if (!th.joinable()) th = std::thread([this] { loop(); });
    pending = true;
    cv.notify_one();
  }

  // Waits until no checkpoint is running or requested: every committed frame is then copied
  // (the writer holds write_mu_, so none are added meanwhile).
  void wait_idle() {
    std::unique_lock<std::mutex> lk(mu);
    idle_cv.wait(lk, [&] { return stop || (!pending && !running); });
  }

  void loop() {
    std::unique_lock<std::mutex> lk(mu);
    for (;;) {
      cv.wait(lk, [&] { return stop || pending; });
      if (stop) return;
      pending = false;
      running = true;
      lk.unlock();
      run();
      lk.lock();
      running = false;
      if (!pending) idle_cv.notify_all();
    }
  }

  void run() {
    if (!db) {
      // Own connection: a checkpoint must not use the writer's (busy in a transaction) or a
      // reader's (read-only).  Errors are logged and retried at the next request.
      int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
      if (rc != SQLITE_OK) {
        log::warn("store.checkpointer_open_failed", {{"error", db ? sqlite3_errmsg(db) : "out of memory"}});
        sqlite3_close_v2(db);
        db = nullptr;
        return;
      }
      sqlite3_exec(db, opt.durability == Durability::power ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                   nullptr, nullptr, nullptr);
    }
    int log_frames = 0, done_frames = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done_frames);
    if (rc == SQLITE_OK) ++runs;
    else if (rc != SQLITE_BUSY) log::warn("store.checkpoint_failed", {{"error", sqlite3_errmsg(db)}});
  }

  const std::string path;
  const DbOptions opt;
  std::mutex mu;
  std::condition_variable cv, idle_cv;
  bool pending = false, running = false, stop = false;
  std::thread th;
  sqlite3* db = nullptr;  // used by the thread only
  std::atomic<uint64_t> runs{0}, forced{0};
};

int Database::on_wal_commit(void* self, sqlite3* db, const char* name, int frames) {
  auto* d = static_cast<Database*>(self);
  d->wal_frames_ = frames;
  if (frames >= kWalForceFrames) {
    // The background checkpoints are not keeping the WAL small: this commit pays for one.
    if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) == SQLITE_OK) ++d->checkpointer_->forced;
  } else if (frames >= kWalCheckpointFrames) {
    d->checkpointer_->request();
  }
  return SQLITE_OK;
}

uint64_t Database::background_checkpoints() const { return checkpointer_ ? checkpointer_->runs.load() : 0; }
uint64_t Database::forced_checkpoints() const { return checkpointer_ ? checkpointer_->forced.load() : 0; }

// ---- Database ----
Result<std::unique_ptr<Database>> Database::open(const std::string& path, const DbOptions& opt) {
  std::unique_ptr<Database> d(new Database());
  d->path_ = path;
  d->opt_ = opt;
  d->id_ = g_next_id++;
  auto w = open_conn(path, opt, true);
  if (!w) return w.status();
  d->writer_ = std::make_unique<Conn>(*w);
  Conn& c = *d->writer_;
  if (opt.read_only) return d;
  d->checkpointer_ = std::make_unique<Checkpointer>(path, opt);
  sqlite3_wal_hook(*w, &Database::on_wal_commit, d.get());  // replaces SQLite's auto-checkpoint
  Status st = c.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))");
  if (!st) return st;
  int current = 0;
  {
    Stmt& q = c.prepare("SELECT COALESCE(MAX(version),0) FROM schema_migrations");
    if (q.step()) current = int(q.int64(0));
    if (!q.status()) return q.status();
    q.reset();
  }
  for (const Migration& m : migrations()) {
    if (m.version <= current) continue;
    st = d->write([&](Conn& cc) -> Status {
      Status s = cc.exec(m.sql);
      if (!s) return Status(Err::internal, std::string("migration ") + std::to_string(m.version) + " (" + m.name + ") failed: " + s.message);
      Stmt& ins = cc.prepare("INSERT INTO schema_migrations(version, name) VALUES(?, ?)");
      ins.bind(1, int64_t(m.version)).bind(2, m.name);
      return ins.run();
    });
    if (!st) return st;
    current = m.version;
  }
  d->schema_version_ = current;
  return d;
}

Database::~Database() {
  checkpointer_.reset();  // its thread and connection go before the writer's
  if (!t_readers_gone) t_readers.conns.erase(id_);
}

// ---- Writes: one transaction per call, or group commit (db.h) ----

// One write() call.  Lives on its caller's stack; the leader touches it only while the caller
// waits for `done` (set under queue_mu_, the last access by the leader).
struct Database::Pending {
  const std::function<Status(Conn&)>* fn;
  bool replayable = false;   // write(fn, WriteKind::replayable): may run without a savepoint
  Status st;
  std::exception_ptr error;  // fn threw: rethrown on the caller's thread
  bool done = false;         // st is final (committed, or failed)
  bool lead = false;         // promoted: this caller runs the next group
  std::condition_variable cv;
};

namespace {

template <size_t N>
void observe(std::array<uint64_t, N + 1>& counts, const std::array<double, N>& bounds, double v) {
  size_t i = 0;
  while (i < N && v > bounds[i]) ++i;
  ++counts[i];
}

// Runs a callback, turning an exception into a failed Status (kept for the caller).
Status run_callback(const std::function<Status(Conn&)>& fn, Conn& c, std::exception_ptr* error) {
  try {
    return fn(c);
  } catch (...) {
    *error = std::current_exception();
    return Status(Err::internal, "write failed: exception in the write callback");
  }
}

// BEGIN, SAVEPOINT, RELEASE, COMMIT from the connection's statement cache (sqlite3_exec would
// compile them again for every write).
Status run_cached(Conn& c, const std::string& sql) {
  Stmt& s = c.prepare(sql);
  Status st = s.run();
  s.reset();
  return st;
}

// The writer connection is in a transaction (SQLite rolls it back by itself after some
// errors, e.g. a full disk or an I/O error).
bool in_transaction(Conn& c) { return sqlite3_get_autocommit(c.raw()) == 0; }

}  // namespace

// SQLite starts the WAL over at BEGIN only when every frame has been copied back: past
// kWalRestartFrames, let the running checkpoint finish first so the WAL stays bounded.
// (Called with write_mu_ held, before BEGIN.)
void Database::wait_for_wal_restart() {
  if (checkpointer_ && wal_frames_ >= kWalRestartFrames) {
    checkpointer_->wait_idle();
    wal_frames_ = 0;
  }
}

Status Database::commit_timed(size_t members) {
  auto t0 = std::chrono::steady_clock::now();
  Status st = run_cached(*writer_, "COMMIT");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!st && in_transaction(*writer_)) writer_->exec("ROLLBACK");
  std::lock_guard<std::mutex> lk(stats_mu_);
  ++stats_.groups;
  stats_.requests += members;
  observe<WriteStats::kGroupBounds.size()>(stats_.group_counts, WriteStats::kGroupBounds, double(members));
  observe<WriteStats::kCommitBounds.size()>(stats_.commit_counts, WriteStats::kCommitBounds, secs);
  stats_.commit_seconds += secs;
  return st;
}

// One write callback under the write budget (limits.max_write_ms): SQL still running past it
// is interrupted by the progress handler, and a callback that took longer fails; either way
// its writes are rolled back by the caller (the member's savepoint, or the transaction).
Status Database::run_budgeted(const std::function<Status(Conn&)>& fn, Conn& c, std::exception_ptr* error) {
  if (write_budget_ms_ <= 0) return run_callback(fn, c, error);
  auto now_ns = [] {
    return int64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
  };
  write_deadline_ns_ = now_ns() + int64_t(write_budget_ms_) * 1000000;
  write_interrupted_ = false;
  sqlite3_progress_handler(c.raw(), 10000, &Database::on_progress, this);
  Status st = run_callback(fn, c, error);
  sqlite3_progress_handler(c.raw(), 0, nullptr, nullptr);
  if (write_interrupted_ || now_ns() > write_deadline_ns_)
    st = Status(Err::too_large, "the request held the database writer longer than " + std::to_string(write_budget_ms_) +
                                    " ms (limits.max_write_ms); nothing was written");
  write_deadline_ns_ = 0;
  return st;
}

// writer.group_commit false: every call is its own transaction, callers wait for write_mu_.
Status Database::write_alone(const std::function<Status(Conn&)>& fn) {
  std::lock_guard<std::mutex> lk(write_mu_);
  wait_for_wal_restart();
  Conn& c = *writer_;
  Status st = run_cached(c, "BEGIN IMMEDIATE");
  if (!st) return st;
  std::exception_ptr error;
  st = run_budgeted(fn, c, &error);
  if (!st) {
    if (in_transaction(c)) c.exec("ROLLBACK");
    if (error) std::rethrow_exception(error);
    return st;
  }
  return commit_timed(1);
}

Status Database::write(const std::function<Status(Conn&)>& fn, WriteKind kind) {
  if (!opt_.group_commit || opt_.read_only) return write_alone(fn);
  Pending me;
  me.fn = &fn;
  me.replayable = kind == WriteKind::replayable;
  {
    std::unique_lock<std::mutex> lk(queue_mu_);
    queue_.push_back(&me);
    if (leading_) {
      arrived_.notify_one();  // a leader waiting out its commit delay takes this write
      me.cv.wait(lk, [&] { return me.done || me.lead; });
    } else {
      leading_ = true;
      me.lead = true;
    }
  }
  if (!me.done) lead_group();  // we are at the head of queue_: our request is the group's first
  if (me.error) std::rethrow_exception(me.error);
  return me.st;
}

// The leader: takes requests from the head of queue_ (its own first) until the queue is
// empty or a bound is reached, applies them in one transaction, commits, answers them all,
// then hands the lead to the next waiting request (if any).
// A new transaction holding the writes of `applied` again, run in order without savepoints
// (all of them replayable); on failure nothing is left open.
Status Database::replay(const std::vector<Pending*>& applied, Conn& c) {
  Status st = run_cached(c, "BEGIN IMMEDIATE");
  for (Pending* a : applied) {
    if (!st) break;
    std::exception_ptr error;
    st = run_budgeted(*a->fn, c, &error);
    if (error) st = Status(Err::internal, "a write threw when applied again");
  }
  if (!st && in_transaction(c)) c.exec("ROLLBACK");
  return st;
}

void Database::lead_group() {
  std::vector<Pending*> finished;  // every request taken (its st set when it failed)
  std::vector<Pending*> applied;   // requests whose writes are in the open transaction
  {
    std::lock_guard<std::mutex> wl(write_mu_);
    wait_for_wal_restart();
    Conn& c = *writer_;
    bool open = false;
    bool all_replayable = false;  // every member applied in the open transaction is replayable
    uint64_t bytes0 = c.bound_bytes();
    // Commit delay (top of db.h): only when the previous group showed concurrent writers.
    const bool may_wait = opt_.commit_delay_us > 0 && last_group_ > 1;
    const auto wait_until = std::chrono::steady_clock::now() + std::chrono::microseconds(opt_.commit_delay_us);
    for (;;) {
      Pending* r = nullptr;
      {
        std::unique_lock<std::mutex> ql(queue_mu_);
        bool full = finished.size() >= opt_.max_group_requests || c.bound_bytes() - bytes0 >= opt_.max_group_bytes;
        if (queue_.empty() && open && !full && may_wait)
          arrived_.wait_until(ql, wait_until, [&] { return !queue_.empty(); });
        if (queue_.empty() || (full && !finished.empty())) break;
        r = queue_.front();
        queue_.pop_front();
      }
      finished.push_back(r);
      if (!open) {
        // First member of a transaction: no savepoint (nothing else to protect); on failure
        // the whole transaction goes, and the next member begins a new one.
        r->st = run_cached(c, "BEGIN IMMEDIATE");
        if (!r->st) continue;
        open = true;
        r->st = run_budgeted(*r->fn, c, &r->error);
        if (!r->st) {
          if (in_transaction(c)) c.exec("ROLLBACK");
          open = false;
          continue;
        }
        all_replayable = r->replayable;
      } else if (all_replayable && r->replayable) {
        // No savepoint (its sub-journal copied every page the member touched, ~14% of the
        // instructions of a small create): on failure the transaction is rolled back and the
        // members before this one are applied again (top of db.h).
        r->st = run_budgeted(*r->fn, c, &r->error);
        if (!r->st) {
          if (in_transaction(c)) c.exec("ROLLBACK");
          Status again = replay(applied, c);
          if (!again) {
            Status lost(Err::unavailable, "the write was rolled back with its group: " + again.message);
            for (Pending* a : applied) a->st = lost;
            applied.clear();
            open = false;
          }
          continue;
        }
      } else {
        all_replayable = false;
        r->st = run_cached(c, "SAVEPOINT ef_member");
        if (r->st) {
          r->st = run_budgeted(*r->fn, c, &r->error);
          if (r->st) r->st = run_cached(c, "RELEASE ef_member");
          if (!r->st && in_transaction(c)) {
            c.exec("ROLLBACK TO ef_member");  // undoes this member only
            c.exec("RELEASE ef_member");
          }
        }
      }
      if (!in_transaction(c)) {
        // SQLite rolled the whole transaction back (e.g. disk full): the members applied
        // before this one are lost too.
        Status lost(Err::unavailable, "the write was rolled back with its group: " +
                                          (r->st ? std::string("the transaction ended unexpectedly") : r->st.message));
        if (r->st) r->st = lost;
        for (Pending* a : applied) a->st = lost;
        applied.clear();
        open = false;
        continue;
      }
      if (r->st) applied.push_back(r);
    }
    last_group_ = finished.size();
    if (open) {
      Status st = commit_timed(applied.size());
      if (!st)
        for (Pending* a : applied) a->st = st;
    }
  }
  std::lock_guard<std::mutex> ql(queue_mu_);
  for (Pending* r : finished) {
    r->done = true;
    r->lead = false;
    r->cv.notify_one();  // under queue_mu_: the waiter cannot return (and destroy cv) before
  }
  if (queue_.empty()) {
    leading_ = false;
  } else {
    queue_.front()->lead = true;
    queue_.front()->cv.notify_one();
  }
}

WriteStats Database::write_stats() const {
  std::lock_guard<std::mutex> lk(stats_mu_);
  return stats_;
}

size_t Database::queued_writes() const {
  std::lock_guard<std::mutex> lk(queue_mu_);
  return queue_.size();
}

int Database::on_progress(void* self) {
  auto* d = static_cast<Database*>(self);
  if (!d->write_deadline_ns_) return 0;
  int64_t now = int64_t(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
  if (now <= d->write_deadline_ns_) return 0;
  d->write_interrupted_ = true;
  return 1;  // SQLITE_INTERRUPT for the running statement
}

Conn& Database::reader() {
  auto& slot = t_readers.conns[id_];
  if (!slot) {
    DbOptions ro = opt_;
    auto r = open_conn(path_, ro, false);
    if (!r) {
      log::error("store.reader_open_failed", {{"error", r.status().message}});
      // Fall back to a connection that will report errors on use.
      sqlite3* db = nullptr;
      sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, nullptr);
      slot = std::make_unique<Conn>(db);
    } else {
      slot = std::make_unique<Conn>(*r);
    }
  }
  return *slot;
}

Status Database::read(const std::function<Status(Conn&)>& fn) {
  Conn& c = reader();
  Status st = c.exec("BEGIN");
  if (!st) return st;
  st = fn(c);
  c.exec("COMMIT");
  return st;
}

int64_t Database::size_bytes() {
  Conn& c = reader();
  Stmt& q = c.prepare("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()");
  int64_t n = q.step() ? q.int64(0) : 0;
  q.reset();
  return n;
}

Status Database::release_memory() {
  std::lock_guard<std::mutex> lk(write_mu_);
  return writer_->exec("PRAGMA shrink_memory");
}

Status Database::checkpoint() {
  std::lock_guard<std::mutex> lk(write_mu_);
  if (checkpointer_) checkpointer_->wait_idle();  // else TRUNCATE could find it busy
  return writer_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

}  // namespace ef::store
