// Tests for the prepared path of a plain create (BundleProcessor::prepare_create,
// Repository::write_prepared_create, Service::execute): which creates take it and which fall
// back to the general path with the request untouched, that the writer restamps
// meta.lastUpdated with its own clock (body and row agree, and follow commit order), and that
// refusals (validation, urn placeholders) answer exactly as the general path does.
#include <catch2/catch.hpp>

#include <cstdio>

#include "app/build.h"
#include "fhir/indexer.h"
#include "fhir/resource.h"
#include "fhir/validate.h"
#include "service/service.h"
#include "util/time.h"
#include "../testing.h"

using namespace ef;
using service::Outcome;

namespace {

struct Env {
  std::string path;
  std::unique_ptr<http::App> app;
  FixedClock clock{1000};
  std::unique_ptr<service::Repository> repo;  // the app's, but on the fixed clock
  std::unique_ptr<service::Service> svc;
  service::BundleOptions opt{service::Access::unrestricted()};

  Env() {
    path = testing::temp_db("prepared_create");
    wipe();
    ServerConfig cfg;
    cfg.database = path;
    auto a = ef::app::open_app(cfg);
    REQUIRE(a.ok());
    app = std::move(*a);
    repo = std::make_unique<service::Repository>(*app->db, *app->resources, clock,
                                                 [](const json::Value& r, fhir::IndexRows* out) { fhir::extract_index(r, out); });
    repo->set_check([](const json::Value& r, std::vector<fhir::Issue>* kept) {
      return fhir::check_on_write(r, fhir::OnWrite::strict, kept);
    });
    svc = std::make_unique<service::Service>(*app->db, *repo, "http://edge.test/fhir");
  }
  ~Env() {
    svc.reset();
    repo.reset();
    app.reset();
    wipe();
  }
  void wipe() {
    for (const char* suf : {"", "-wal", "-shm"}) std::remove((path + suf).c_str());
  }
  service::EntryRequest post(const std::string& body) {
    service::EntryRequest e;
    e.method = "POST";
    e.url = e.type = "Observation";
    json::ParseOptions po;
    po.preserve_numbers = true;
    auto doc = json::parse(body, po);
    REQUIRE(doc.ok());
    e.resource = std::move(*doc);
    return e;
  }
};

const char* kObs =
    R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},)"
    R"("subject":{"reference":"Patient/p1"}})";

}  // namespace

TEST_CASE("prepared create: the writer restamps lastUpdated with its clock; body, row and history agree",
          "[prepared_create]") {
  Env env;
  auto bp = env.svc->processor();
  service::EntryRequest e = env.post(kObs);
  service::Repository::Prepared p;
  REQUIRE(bp.prepare_create(e, env.opt, &p));
  CHECK(e.resource.is<picojson::null>());  // moved into p
  CHECK(p.now_ms == 1000);
  REQUIRE(p.stamp_at != std::string::npos);
  CHECK(p.body.substr(p.stamp_at, 24) == timefmt::format_instant(1000));
  // Time passes while the create waits for the writer.
  env.clock.set_ms(86400000 + 4321);
  Result<service::EntryResult> out = Status(Err::internal, "not run");
  REQUIRE(env.app->db->write([&](store::Conn& c) {
    out = bp.write_prepared_create(c, p);
    return out.ok() ? Status() : out.status();
  }));
  REQUIRE(out.ok());
  CHECK(out->outcome == Outcome::created);
  CHECK(out->version == 1);
  CHECK(out->last_updated == 86400000 + 4321);
  auto stored = env.app->db->read([&](store::Conn& c) -> Status {
    auto v = env.app->resources->read(c, "Observation", out->id);
    REQUIRE(v.ok());
    CHECK(v->body == out->body);
    CHECK(v->last_updated == 86400000 + 4321);
    auto doc = fhir::parse_resource(v->body);
    REQUIRE(doc.ok());
    CHECK(json::string_or(*json::get(*doc, "meta"), "lastUpdated") == "1970-01-02T00:00:04.321Z");
    CHECK(json::string_or(*doc, "id") == out->id);
    return Status();
  });
  REQUIRE(stored.ok());
}

TEST_CASE("prepared create: Service::execute takes it for plain creates; lastUpdated follows commit order",
          "[prepared_create]") {
  Env env;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    service::EntryRequest e = env.post(kObs);
    auto r = env.svc->execute(e, env.opt);
    REQUIRE(r.ok());
    CHECK(r->outcome == Outcome::created);
    CHECK(e.resource.is<picojson::null>());  // the prepared path moved it
    ids.push_back(r->id);
    env.clock.advance_ms(5);
  }
  store::HistoryQuery q;
  q.type = "Observation";
  q.count = 10;
  REQUIRE(env.app->db->read([&](store::Conn& c) -> Status {
    auto h = env.app->resources->history(c, q);
    REQUIRE(h.ok());
    REQUIRE(h->size() == 3);
    // newest first: seq order and lastUpdated order agree
    CHECK((*h)[0].id == ids[2]);
    CHECK((*h)[2].id == ids[0]);
    CHECK((*h)[0].last_updated == 1010);
    CHECK((*h)[2].last_updated == 1000);
    return Status();
  }).ok());
}

TEST_CASE("prepared create: creates that need the database or fail a check take the general path unchanged",
          "[prepared_create]") {
  Env env;
  auto bp = env.svc->processor();
  service::Repository::Prepared p;
  SECTION("ifNoneExist") {
    service::EntryRequest e = env.post(kObs);
    e.if_none_exist = "identifier=x";
    CHECK_FALSE(bp.prepare_create(e, env.opt, &p));
    CHECK(json::is_object(e.resource));
  }
  SECTION("conditional reference") {
    service::EntryRequest e = env.post(
        R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?identifier=a|b"}})");
    std::string before = json::write(e.resource);
    CHECK_FALSE(bp.prepare_create(e, env.opt, &p));
    CHECK(json::write(e.resource) == before);
  }
  SECTION("urn placeholder: refused with the general path's message") {
    service::EntryRequest e = env.post(
        R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:0b6e1f0e-5d0a-4a53-9c3e-6a2f3f1c2d11"}})");
    CHECK_FALSE(bp.prepare_create(e, env.opt, &p));
    auto r = env.svc->execute(e, env.opt);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message.find("names no entry") != std::string::npos);
  }
  SECTION("validation refuses it: the general path answers") {
    service::EntryRequest e = env.post(R"({"resourceType":"Observation","code":{"text":"no status"}})");
    CHECK_FALSE(bp.prepare_create(e, env.opt, &p));
    CHECK(json::is_object(e.resource));
    auto r = env.svc->execute(e, env.opt);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code == Err::unprocessable);
  }
  SECTION("meta with an extension (the writer could not restamp it in place)") {
    service::EntryRequest e = env.post(
        R"({"resourceType":"Observation","meta":{"extension":[{"url":"http://x.test/e","valueString":"v"}]},)"
        R"("status":"final","code":{"text":"x"}})");
    CHECK_FALSE(bp.prepare_create(e, env.opt, &p));
    env.clock.set_ms(7000);
    auto r = env.svc->execute(e, env.opt);
    REQUIRE(r.ok());
    CHECK(r->outcome == Outcome::created);
    CHECK(r->last_updated == 7000);
    CHECK(r->body.find("\"lastUpdated\":\"1970-01-01T00:00:07.000Z\"") != std::string::npos);
  }
  SECTION("import mode") {
    service::EntryRequest e = env.post(kObs);
    env.opt.ids_from_urn = true;
    CHECK_FALSE(bp.prepare_create(e, env.opt, &p));
  }
}
