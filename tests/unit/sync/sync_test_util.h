// tests/unit/sync/sync_test_util.h — a local edge (database + repository) for sync tests.
#pragma once
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "service/repository.h"
#include "fhir/resource.h"
#include "store/db.h"
#include "store/resources.h"
#include "sync/sync_config.h"
#include "fake_upstream.h"
#include "util/clock.h"

namespace ef::testing {

struct Edge {
  std::string path;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<store::Resources> res;
  std::unique_ptr<service::Repository> repo;
  const Clock& clock;

  explicit Edge(const std::string& name, const Clock& c = SystemClock::instance()) : path(sync_temp_db(name)), clock(c) {
    auto d = store::Database::open(path);
    REQUIRE(d.ok());
    db = std::move(*d);
    res = std::make_unique<store::Resources>(*db);
    REQUIRE(res->init({}).ok());
    repo = std::make_unique<service::Repository>(*db, *res, clock, nullptr);
  }
  // PUT Type/id with {"resourceType":Type,"id":id, "name":[{"family":family}]} (or `extra` JSON members).
  int64_t put(const std::string& type, const std::string& id, const std::string& family) {
    std::string body = "{\"resourceType\":\"" + type + "\",\"id\":\"" + id + "\",\"text\":{\"status\":\"generated\","
                       "\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">" + family + "</div>\"}}";
    auto v = fhir::parse_resource(body);
    REQUIRE(v.ok());
    auto w = repo->update(type, id, *v);
    REQUIRE(w.ok());
    return w->version;
  }
  void del(const std::string& type, const std::string& id) {
    auto w = repo->remove(type, id);
    REQUIRE(w.ok());
  }
};

inline sync::SyncConfig sync_config(const FakeUpstream& up, const std::string& extra = "") {
  std::string text = "{\"upstream\":\"" + up.url() + "\"" + (extra.empty() ? "" : "," + extra) + "}";
  auto v = json::parse(text);
  REQUIRE(v.ok());
  auto c = sync::parse_sync_config(&*v, "test");
  INFO(c.status().message);
  REQUIRE(c.ok());
  return *c;
}

}  // namespace ef::testing
