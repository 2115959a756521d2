// Tests for service/repository's lastUpdated stamps (Repository::stamp): a write in a later
// transaction is stamped later than every committed one even when the wall clock stands still
// or goes back (no gap for `_lastUpdated=gt` incremental downloads, README "Mobile clients");
// writes inside one transaction may share a millisecond.
#include <catch2/catch.hpp>

#include "service/repository.h"
#include "../testing.h"

using namespace ef;

namespace {

json::Value patient(const std::string& id) {
  auto v = json::parse(R"({"resourceType":"Patient","id":")" + id + R"("})");
  REQUIRE(v.ok());
  return *v;
}

}  // namespace

TEST_CASE("lastUpdated stamps: later than every committed transaction, shared inside one", "[service][stamp]") {
  testing::TempDb tmp("stamp");
  auto db = store::Database::open(tmp.path);
  REQUIRE(db.ok());
  store::Resources res(**db);
  REQUIRE(res.init({}).ok());
  FixedClock clock(1'700'000'000'000);
  service::Repository repo(**db, res, clock, nullptr);

  auto a = repo.update("Patient", "a", patient("a"));
  auto b = repo.update("Patient", "b", patient("b"));  // same millisecond on the clock, next transaction
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->last_updated == 1'700'000'000'000);
  CHECK(b->last_updated == a->last_updated + 1);

  clock.set_ms(1'600'000'000'000);  // the wall clock goes back
  auto c = repo.update("Patient", "c", patient("c"));
  REQUIRE(c.ok());
  CHECK(c->last_updated == b->last_updated + 1);

  // two writes in one transaction commit together: they may share the stamp
  std::vector<int64_t> stamps;
  Status st = (*db)->write([&](store::Conn& conn) -> Status {
    for (const char* id : {"d", "e"}) {
      auto w = repo.update(conn, "Patient", id, patient(id));
      if (!w) return w.status();
      stamps.push_back(w->last_updated);
    }
    return Status();
  });
  REQUIRE(st.ok());
  REQUIRE(stamps.size() == 2);
  CHECK(stamps[0] == c->last_updated + 1);
  CHECK(stamps[1] == stamps[0]);

  // the clock ahead again: the clock wins
  clock.set_ms(1'800'000'000'000);
  auto f = repo.update("Patient", "f", patient("f"));
  REQUIRE(f.ok());
  CHECK(f->last_updated == 1'800'000'000'000);

  // a create prepared before it queued for the writer (Service::execute) is restamped the
  // same way: the clock stands still, the next transaction is still later
  auto p = repo.prepare_create("Patient", "g", patient("g"), clock.now_ms());
  int64_t got = 0;
  std::string body;
  st = (*db)->write([&](store::Conn& conn) -> Status {
    auto w = repo.write_prepared_create(conn, p);
    if (!w) return w.status();
    got = w->last_updated;
    body = w->body;
    return Status();
  });
  REQUIRE(st.ok());
  CHECK(got == f->last_updated + 1);
  CHECK(body.find("\"lastUpdated\":\"2027-01-15T08:00:00.001Z\"") != std::string::npos);
}
