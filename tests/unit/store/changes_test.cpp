// Tests for store/changes: which versions were committed after a seq, and whether one of them is
// of given types; here the versions are inserted by SQL as any process would commit them.
#include <catch2/catch.hpp>

#include "store/changes.h"
#include "../testing.h"

using namespace ef;

TEST_CASE("changes_since: the newest seq and whether a version of the types came after", "[store][changes]") {
  auto db = testing::open_temp_db("changes.db");
  const std::vector<std::string> types{"CodeSystem", "ValueSet", "ConceptMap"};
  auto scan = [&](int64_t after, int64_t max_scan = 100000) {
    store::ChangeScan out;
    Status st = db->read([&](store::Conn& c) -> Status {
      auto r = store::changes_since(c, after, types, max_scan);
      if (!r) return r.status();
      out = *r;
      return Status();
    });
    REQUIRE(st.ok());
    return out;
  };
  auto add = [&](const std::string& type, const std::string& id) {
    REQUIRE(db->write([&](store::Conn& c) {
                return c.exec("INSERT INTO resource_version(type, id, version, last_updated, method, body) VALUES('" +
                              type + "', '" + id + "', 1, 1, 'PUT', '{}')");
              }).ok());
  };
  auto empty = scan(0);
  CHECK(empty.newest_seq == 0);
  CHECK_FALSE(empty.touched);
  add("Patient", "p1");
  add("Observation", "o1");
  auto s1 = scan(0);
  CHECK(s1.newest_seq == 2);
  CHECK_FALSE(s1.touched);  // other types only
  add("ValueSet", "v1");
  auto s2 = scan(s1.newest_seq);
  CHECK(s2.newest_seq == 3);
  CHECK(s2.touched);
  CHECK_FALSE(scan(s2.newest_seq).touched);  // nothing new since
  CHECK(scan(s2.newest_seq).newest_seq == 3);
  add("Patient", "p2");
  CHECK_FALSE(scan(3).touched);
  CHECK(scan(0).touched);  // the ValueSet is after 0
  // more new rows than max_scan: not read, reported as touched
  CHECK(scan(2, 1).touched);
  CHECK_FALSE(scan(3, 1).touched);  // one new row (a Patient): within the bound, read
}

TEST_CASE("data_version: changes on a reader only when another connection committed", "[store][changes]") {
  auto db = testing::open_temp_db("changes-dv.db");
  store::Conn& r = db->reader();
  auto v1 = store::data_version(r);
  REQUIRE(v1.ok());
  auto v2 = store::data_version(r);
  REQUIRE(v2.ok());
  CHECK(*v2 == *v1);  // nothing committed in between
  REQUIRE(db->write([](store::Conn& c) {
              return c.exec("INSERT INTO resource_version(type, id, version, last_updated, method, body) "
                            "VALUES('ValueSet', 'v', 1, 1, 'PUT', '{}')");
            }).ok());
  auto v3 = store::data_version(r);
  REQUIRE(v3.ok());
  CHECK(*v3 != *v2);
}
