// Tests for store/reindex (the reads behind `edgefhir reindex`) and the command itself
// (cli/reindex.cpp) on a temporary database: batches in rid order with a type filter,
// deleted resources left out, stale rows removed, and the index of resources whose rows were
// cleared rebuilt so that a search finds them again.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "cli/commands.h"
#include "app/build.h"
#include "fhir/search_query.h"
#include "store/reindex.h"
#include "store/search.h"
#include "util/json.h"
#include "../testing.h"

using namespace ef;

namespace {

using testing::TempDb;

std::unique_ptr<http::App> open(const std::string& path) {
  ServerConfig cfg;
  cfg.database = path;
  auto app = ef::app::open_app(cfg);
  REQUIRE(app.ok());
  return std::move(*app);
}

std::string create(http::App& app, const std::string& text) {
  json::ParseOptions po;
  po.preserve_numbers = true;
  auto doc = json::parse(text, po);
  REQUIRE(doc.ok());
  auto w = app.repo->create(*doc);
  REQUIRE(w.ok());
  return w->id;
}

int64_t rid_of(http::App& app, const std::string& type, const std::string& id) {
  int64_t rid = 0;
  REQUIRE(app.db->read([&](store::Conn& c) -> Status {
    auto cur = app.resources->current(c, type, id);
    if (!cur) return cur.status();
    rid = (*cur)->rid;
    return Status();
  }).ok());
  return rid;
}

std::vector<std::string> search(http::App& app, const std::string& type, const std::string& qs) {
  auto p = fhir::parse_query_string(qs, false);
  REQUIRE(p.ok());
  fhir::SearchParseOptions o;
  auto q = fhir::parse_search(type, *p, o);
  REQUIRE(q.ok());
  std::vector<std::string> ids;
  REQUIRE(app.db->read([&](store::Conn& c) -> Status {
    auto page = store::run_search(c, *q);
    if (!page) return page.status();
    for (auto& m : page->matches) ids.push_back(m.id);
    return Status();
  }).ok());
  return ids;
}

int64_t index_rows(http::App& app) {
  int64_t n = -1;
  REQUIRE(app.db->read([&](store::Conn& c) -> Status {
    auto r = store::count_index_rows(c);
    if (!r) return r.status();
    n = *r;
    return Status();
  }).ok());
  return n;
}

}  // namespace

TEST_CASE("current_resources_after pages in rid order, filters types, skips deleted", "[reindex]") {
  TempDb t("pages");
  auto app = open(t.path);
  std::vector<std::string> pats;
  for (int i = 0; i < 5; ++i) pats.push_back(create(*app, R"({"resourceType":"Patient","name":[{"family":"P)" + std::to_string(i) + R"("}]})"));
  std::string obs = create(*app, R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})");
  REQUIRE(app->repo->remove("Patient", pats[2]).ok());

  std::vector<std::string> seen;
  int64_t after = 0;
  int batches = 0;
  for (;;) {
    std::vector<store::StoredResource> got;
    REQUIRE(app->db->read([&](store::Conn& c) -> Status {
      auto r = store::current_resources_after(c, after, 2, {"Patient"});
      if (!r) return r.status();
      got = *r;
      return Status();
    }).ok());
    ++batches;
    for (const auto& r : got) {
      CHECK(r.rid > after);
      after = r.rid;
      CHECK(r.type == "Patient");
      CHECK(r.body.find("\"id\":\"" + r.id + "\"") != std::string::npos);
      seen.push_back(r.id);
    }
    if (got.size() < 2) break;
  }
  CHECK(seen == std::vector<std::string>{pats[0], pats[1], pats[3], pats[4]});
  CHECK(batches == 3);  // 2 + 2 + 0
  REQUIRE(app->db->read([&](store::Conn& c) -> Status {
    CHECK(*store::count_current_resources(c, {}) == 5);
    CHECK(*store::count_current_resources(c, {"Patient"}) == 4);
    CHECK(*store::count_current_resources(c, {"Observation", "Encounter"}) == 1);
    auto all = store::current_resources_after(c, 0, 100, {});
    REQUIRE(all.ok());
    CHECK(all->size() == 5);
    CHECK(all->back().id == obs);
    return Status();
  }).ok());
}

TEST_CASE("reindex command rebuilds cleared index rows and removes stale ones", "[reindex]") {
  TempDb t("cmd");
  std::string a, b, obs;
  int64_t rows_before = 0;
  {
    auto app = open(t.path);
    a = create(*app, R"({"resourceType":"Patient","name":[{"family":"Ordóñez"}],"gender":"female"})");
    b = create(*app, R"({"resourceType":"Patient","name":[{"family":"Smith"}],"gender":"male"})");
    obs = create(*app, R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]},"subject":{"reference":"Patient/)" + a + R"("}})");
    rows_before = index_rows(*app);
    REQUIRE(rows_before > 0);
    // clear every row of the three resources
    REQUIRE(app->db->write([&](store::Conn& c) -> Status {
      for (auto [type, id] : {std::make_pair("Patient", a), std::make_pair("Patient", b), std::make_pair("Observation", obs)}) {
        auto cur = app->resources->current(c, type, id);
        if (!cur) return cur.status();
        Status st = app->resources->reindex_rows(c, (*cur)->rid, type, {});
        if (!st) return st;
      }
      return Status();
    }).ok());
    CHECK(index_rows(*app) == 0);
    CHECK(search(*app, "Patient", "family=ordonez").empty());
  }
  std::ostringstream out, err;
  SECTION("one type") {
    REQUIRE(cli::reindex_main({"--database", t.path, "--type", "Observation"}, out, err) == 0);
    CHECK(out.str().find("reindexed 1 resource of type Observation:") == 0);
    auto app = open(t.path);
    CHECK(search(*app, "Observation", "code=http://loinc.org|8302-2") == std::vector<std::string>{obs});
    CHECK(search(*app, "Patient", "family=ordonez").empty());
  }
  SECTION("everything, in batches of one") {
    REQUIRE(cli::reindex_main({"--database", t.path, "--batch", "1"}, out, err) == 0);
    INFO(out.str() << err.str());
    CHECK(out.str().find("reindexed 3 resources: " + std::to_string(rows_before) + " index rows") == 0);
    CHECK(err.str().empty());
    auto app = open(t.path);
    CHECK(index_rows(*app) == rows_before);
    CHECK(search(*app, "Patient", "family=ordonez") == std::vector<std::string>{a});
    CHECK(search(*app, "Patient", "gender=male") == std::vector<std::string>{b});
    CHECK(search(*app, "Observation", "subject=Patient/" + a) == std::vector<std::string>{obs});
    // a patient deleted afterwards leaves no rows behind a second run could resurrect
    REQUIRE(app->repo->remove("Patient", b).ok());
    int64_t rid_b = rid_of(*app, "Patient", b);
    REQUIRE(app->db->write([&](store::Conn& c) -> Status {
      fhir::IndexRow r;
      r.param = "gender";
      r.type = fhir::ParamType::token;
      r.code = "male";
      return app->resources->reindex_rows(c, rid_b, "Patient", {r});  // a stale row
    }).ok());
    CHECK(search(*app, "Patient", "gender=male").empty());  // deleted resources never match
    int64_t with_stale = index_rows(*app);
    app.reset();
    std::ostringstream out2, err2;
    REQUIRE(cli::reindex_main({"--database", t.path}, out2, err2) == 0);
    CHECK(out2.str().find("reindexed 2 resources:") == 0);
    CHECK(out2.str().find("removed 1 stale index rows") != std::string::npos);
    app = open(t.path);
    CHECK(index_rows(*app) == with_stale - 1);
  }
  SECTION("usage errors") {
    CHECK(cli::reindex_main({"--database", t.path, "--type", "Patient,Nope"}, out, err) == 2);
    CHECK(err.str().find("'Nope' is not an R4 resource type") != std::string::npos);
    CHECK(cli::reindex_main({"--database", t.path, "--batch", "x"}, out, err) == 2);
    CHECK(cli::reindex_main({"--database", t.path, "--help"}, out, err) == 0);
    CHECK(out.str().find("usage: edgefhir reindex") == 0);
  }
}
