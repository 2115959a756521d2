#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "store/db.h"
#include "../testing.h"

using namespace ef;

namespace {
using testing::temp_db;

// The first column of the first row of `sql` (e.g. a COUNT), -1 when there is none.
int64_t scalar(store::Database& d, const char* sql) {
  int64_t n = -1;
  d.read([&](store::Conn& c) {
    auto& q = c.prepare(sql);
    if (q.step()) n = q.int64(0);
    q.reset();
    return Status();
  });
  return n;
}
}  // namespace

TEST_CASE("database migrates once and records versions", "[store]") {
  std::string p = temp_db("migrate");
  {
    auto db = store::Database::open(p);
    REQUIRE(db.ok());
    CHECK((*db)->schema_version() == int(store::migrations().back().version));
  }
  auto db = store::Database::open(p);  // second open: nothing to apply, no error
  REQUIRE(db.ok());
  CHECK(scalar(**db, "SELECT COUNT(*) FROM schema_migrations") == int64_t(store::migrations().size()));
}

TEST_CASE("migration 9 drops the never-read _id and _lastUpdated index rows, keeps the others", "[store]") {
  std::string p = temp_db("migrate9");
  {
    auto db = store::Database::open(p);
    REQUIRE(db.ok());
    // A database as version 8 left it: rows for _id / _lastUpdated next to real ones.
    REQUIRE((*db)->write([](store::Conn& c) {
      return c.exec(
          testing::index_tables_as_schema11_sql() +
          "INSERT INTO search_param(pid, type, code) VALUES(1,'Patient','_id'),(2,'Patient','_lastUpdated'),"
          "(3,'Patient','identifier'),(4,'Patient','birthdate');"
          "INSERT INTO idx_token(rid, pid, code) VALUES(1,1,'a'),(1,3,'x');"
          "INSERT INTO idx_date(rid, pid, lo, hi) VALUES(1,2,0,1),(1,4,5,6);"
          "DELETE FROM schema_migrations WHERE version>=9;"
          // ... and without what later migrations added (they are applied again after 9).
          "DROP TABLE sync_pull; DROP INDEX sync_conflict_res; ALTER TABLE sync_resource DROP COLUMN origin;"
          "ALTER TABLE sync_conflict DROP COLUMN direction; ALTER TABLE sync_conflict DROP COLUMN upstream_body;"
          "ALTER TABLE sync_conflict DROP COLUMN resolved_at;");
    }).ok());
  }
  auto db = store::Database::open(p);  // applies 9 again
  REQUIRE(db.ok());
  CHECK(scalar(**db, "SELECT COUNT(*) FROM idx_token WHERE pid=1") == 0);
  CHECK(scalar(**db, "SELECT COUNT(*) FROM idx_date WHERE pid=2") == 0);
  CHECK(scalar(**db, "SELECT COUNT(*) FROM idx_token WHERE pid=3") == 1);
  CHECK(scalar(**db, "SELECT COUNT(*) FROM idx_date WHERE pid=4") == 1);
}

TEST_CASE("WAL checkpoints run in the background and keep the WAL bounded", "[store]") {
  std::string p = temp_db("checkpoint");
  const int kTx = 60, kRows = 200;  // each transaction writes ~200 pages (4 KB blobs)
  {
    auto db = store::Database::open(p);
    REQUIRE(db.ok());
    auto& d = **db;
    REQUIRE(d.write([](store::Conn& c) { return c.exec("CREATE TABLE blob_t(id INTEGER PRIMARY KEY, b BLOB)"); }).ok());
    std::string blob(4000, 'x');
    for (int t = 0; t < kTx; ++t) {
      REQUIRE(d.write([&](store::Conn& c) {
        for (int i = 0; i < kRows; ++i) {
          auto& ins = c.prepare("INSERT INTO blob_t(b) VALUES(?)");
          ins.bind_blob(1, blob);
          Status st = ins.run();
          if (!st) return st;
        }
        return Status();
      }).ok());
    }
    // 60 x 200 pages = 12,000 frames without checkpoints; with them the WAL is started over
    // once it passes kWalRestartFrames.
    CHECK(d.background_checkpoints() > 0);
    CHECK(d.forced_checkpoints() == 0);
    FILE* f = std::fopen((p + "-wal").c_str(), "rb");
    REQUIRE(f);
    std::fseek(f, 0, SEEK_END);
    long wal = std::ftell(f);
    std::fclose(f);
    CHECK(wal < long(store::Database::kWalRestartFrames + 3 * kRows) * 4200);
  }
  auto db = store::Database::open(p);  // everything committed is there
  REQUIRE(db.ok());
  CHECK(scalar(**db, "SELECT COUNT(*) FROM blob_t") == int64_t(kTx) * kRows);
}

TEST_CASE("write rolls back when the callback fails; readers see committed data", "[store]") {
  std::string p = temp_db("rollback");
  auto db = store::Database::open(p);
  REQUIRE(db.ok());
  auto& d = **db;
  Status st = d.write([](store::Conn& c) {
    c.prepare("INSERT INTO search_param(type, code) VALUES('Patient','name')").run();
    return Status(Err::invalid, "stop");
  });
  CHECK_FALSE(st.ok());
  REQUIRE(d.write([](store::Conn& c) { return c.prepare("INSERT INTO search_param(type, code) VALUES('Patient','birthdate')").run(); }).ok());
  int64_t count = -1;
  std::thread t([&] {
    d.read([&](store::Conn& c) {
      auto& q = c.prepare("SELECT COUNT(*) FROM search_param");
      if (q.step()) count = q.int64(0);
      q.reset();
      return Status();
    });
  });
  t.join();
  CHECK(count == 1);
}

TEST_CASE("a statement SQLite refuses carries its error and is never stepped", "[store]") {
  std::string p = temp_db("prepare-fail");
  auto db = store::Database::open(p);
  REQUIRE(db.ok());
  store::Conn& c = (*db)->reader();
  // an OR chain deeper than SQLite's expression limit (1000)
  std::string sql = "SELECT 1 WHERE 0";
  for (int i = 0; i < 1200; ++i) sql += " OR ?=" + std::to_string(i);
  store::Stmt& s = c.prepare(sql);
  CHECK_FALSE(s.prepared());
  CHECK(s.status().code == Err::invalid);
  CHECK(s.status().message.find("too complex") != std::string::npos);
  s.bind(1, int64_t(5)).bind(2, "x");  // binds on it do nothing
  CHECK_FALSE(s.step());
  CHECK(s.status().code == Err::invalid);
  CHECK(s.run().code == Err::invalid);
  CHECK(s.int64(0) == 0);
  CHECK(s.text(0).empty());
  s.reset();
  CHECK_FALSE(s.status().ok());  // still failed after reset
  // a bug in our SQL is Err::internal, not invalid
  store::Stmt& bad = c.prepare("SELEC nothing");
  CHECK(bad.status().code == Err::internal);
  // the connection still works
  store::Stmt& ok = c.prepare("SELECT 41 + 1");
  REQUIRE(ok.step());
  CHECK(ok.int64(0) == 42);
  ok.reset();
  std::remove(p.c_str());
}

TEST_CASE("the statement cache is an LRU of fixed size", "[store]") {
  std::string p = temp_db("stmt-lru");
  auto db = store::Database::open(p);
  REQUIRE(db.ok());
  store::Conn& c = (*db)->reader();
  // a statement in the middle of stepping survives eviction
  store::Stmt& busy = c.prepare("SELECT value FROM json_each('[1,2,3]')");
  REQUIRE(busy.step());
  for (int i = 0; i < 1000; ++i) {
    store::Stmt& s = c.prepare("SELECT " + std::to_string(i));
    REQUIRE(s.step());
    CHECK(s.int64(0) == i);
    s.reset();
    CHECK(c.cached_statements() <= store::Conn::kStmtCacheSize);
  }
  REQUIRE(busy.step());
  CHECK(busy.int64(0) == 2);
  busy.reset();
  std::remove(p.c_str());
}
