// tests/unit/testing.h — the scaffolding every unit test shares: unique temporary paths and
// databases (one naming scheme, leftovers of an earlier run removed first), files written
// for a test, and FHIR JSON parsed as the server does (fhir_json).  The test clock is util/clock.h's FixedClock (thread-safe, settable).
#pragma once
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "store/db.h"
#include "util/clock.h"
#include "util/json.h"

namespace ef::testing {

// FHIR JSON text parsed as the server parses resources (numbers keep their text); the test
// fails at once when it does not parse.
inline json::Value fhir_json(const std::string& text) {
  json::ParseOptions o;
  o.preserve_numbers = true;
  auto v = json::parse(text, o);
  REQUIRE(v.ok());
  return *v;
}

// A path no other test (or test process) uses: /tmp/edgefhir-test-<pid>-<n>-<name>.  Any file
// left there by a crashed run (and its -wal/-shm/-journal) is removed.
inline std::string temp_path(const std::string& name) {
  static std::atomic<int> n{0};
  const char* dir = std::getenv("TMPDIR");
  std::string p = std::string(dir && *dir ? dir : "/tmp") + "/edgefhir-test-" + std::to_string(::getpid()) + "-" +
                  std::to_string(++n) + "-" + name;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::remove((p + suffix).c_str());
  return p;
}

// A fresh database path (nothing there yet).
inline std::string temp_db(const std::string& name) { return temp_path(name + ".db"); }

inline void remove_db(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::remove((path + suffix).c_str());
}

// A database path removed again when the TempDb goes out of scope.
struct TempDb {
  std::string path;
  explicit TempDb(const std::string& name) : path(temp_db(name)) {}
  ~TempDb() { remove_db(path); }
  TempDb(const TempDb&) = delete;
  TempDb& operator=(const TempDb&) = delete;
};

// SQL that turns the idx_* tables of the current schema back into what schema 11 had (rowid
// tables, each with a (pid, value) index and a rid index; migration 12 in store/migrations.cpp),
// keeping their rows in their order, and forgets migration 12: the next Database::open applies
// it again, as on a database written by a release before it.
inline std::string index_tables_as_schema11_sql() {
  struct T {
    const char* name;
    const char* cols;   // declarations
    const char* names;  // column names
    const char* idx;    // index statements besides the rid index
  };
  static const T kTables[] = {
      {"idx_string", "norm TEXT NOT NULL, exact TEXT NOT NULL", "norm, exact",
       "CREATE INDEX idx_string_v ON idx_string(pid, norm);"},
      {"idx_token", "system TEXT, code TEXT, text TEXT, type_system TEXT, type_code TEXT",
       "system, code, text, type_system, type_code", "CREATE INDEX idx_token_v ON idx_token(pid, code, system, rid);"},
      {"idx_date", "lo INTEGER NOT NULL, hi INTEGER NOT NULL", "lo, hi", "CREATE INDEX idx_date_v ON idx_date(pid, lo, hi);"},
      {"idx_number", "num REAL, lo REAL, hi REAL, system TEXT, code TEXT, unit TEXT", "num, lo, hi, system, code, unit",
       "CREATE INDEX idx_number_v ON idx_number(pid, num);"},
      {"idx_reference", "ref_type TEXT, ref_id TEXT, exact TEXT, system TEXT, code TEXT",
       "ref_type, ref_id, exact, system, code",
       "CREATE INDEX idx_reference_v ON idx_reference(pid, ref_id, ref_type);"
       "CREATE INDEX idx_reference_t ON idx_reference(ref_id, ref_type);"},
      {"idx_uri", "exact TEXT NOT NULL", "exact", "CREATE INDEX idx_uri_v ON idx_uri(pid, exact);"},
  };
  std::string sql;
  for (const T& t : kTables) {
    std::string n = t.name;
    sql += "CREATE TABLE " + n + "_11(rid INTEGER NOT NULL, pid INTEGER NOT NULL, " + t.cols +
           ", grp INTEGER NOT NULL DEFAULT 0);";
    sql += "INSERT INTO " + n + "_11(rid, pid, " + t.names + ", grp) SELECT rid, pid, " + t.names + ", grp FROM " + n +
           " ORDER BY rid, n;";
    sql += "DROP TABLE " + n + "; ALTER TABLE " + n + "_11 RENAME TO " + n + ";";
    sql += t.idx;
    sql += "CREATE INDEX " + n + "_r ON " + n + "(rid);";
  }
  return sql + "DELETE FROM schema_migrations WHERE version>=12;";
}

// Opens a fresh database (REQUIREs success).
inline std::unique_ptr<store::Database> open_temp_db(const std::string& name, store::DbOptions o = {}) {
  auto db = store::Database::open(temp_db(name), o);
  REQUIRE(db.ok());
  return std::move(*db);
}

// Writes `text` to a fresh temporary file and returns its path.
inline std::string write_temp_file(const std::string& name, const std::string& text) {
  std::string p = temp_path(name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

// One run of a command's entry point (cli::NAME_main) with its output captured.
struct CliRun {
  int rc = 0;
  std::string out, err;
};
template <typename Main>
CliRun run_command(Main main, std::vector<std::string> args) {
  std::ostringstream o, e;
  int rc = main(std::move(args), o, e);
  return {rc, o.str(), e.str()};
}

}  // namespace ef::testing
