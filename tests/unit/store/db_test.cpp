#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "store/db.h"

using namespace ef;

namespace {
std::string temp_db(const char* name) {
  std::string p = std::string("/tmp/edgefhir-test-") + name + "-" + std::to_string(::getpid()) + ".db";
  std::remove(p.c_str());
  std::remove((p + "-wal").c_str());
  std::remove((p + "-shm").c_str());
  return p;
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
  int64_t n = 0;
  (*db)->read([&](store::Conn& c) {
    auto& q = c.prepare("SELECT COUNT(*) FROM schema_migrations");
    if (q.step()) n = q.int64(0);
    q.reset();
    return Status();
  });
  CHECK(n == int64_t(store::migrations().size()));
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
