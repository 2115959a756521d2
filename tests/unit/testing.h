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
