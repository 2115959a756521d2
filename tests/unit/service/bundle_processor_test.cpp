// Tests for service/bundle_processor: transaction and batch Bundles on a temporary database built
// the way the server builds it (ef::app::open_app: real repository, indexer and match resolver):
// entry checks, all-or-nothing, processing order, urn:uuid / absolute / conditional reference
// rewriting (also inside narrative), ifNoneExist / ifMatch / ifNoneMatch / ifModifiedSince,
// batch independence, the import mode (ids_from_urn) and conditional delete.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>

#include "app/build.h"
#include "service/bundle_processor.h"
#include "fhir/resource.h"
#include "store/search.h"
#include "../testing.h"

using namespace ef;
using service::Outcome;

namespace {

const char* kBase = "http://edge.test/fhir";

struct Env {
  std::string path;
  std::unique_ptr<http::App> app;
  std::unique_ptr<service::BundleProcessor> bp;
  service::BundleOptions opt{service::Access::unrestricted()};

  Env() {
    path = testing::temp_db("bundle");
    wipe();
    ServerConfig cfg;
    cfg.database = path;
    cfg.base_url = kBase;
    auto a = ef::app::open_app(cfg);
    REQUIRE(a.ok());
    app = std::move(*a);
    bp = std::make_unique<service::BundleProcessor>(app->service->processor());
    opt.base_url = kBase;
  }
  ~Env() {
    bp.reset();
    app.reset();
    wipe();
  }
  void wipe() {
    for (const char* suf : {"", "-wal", "-shm"}) std::remove((path + suf).c_str());
  }

  Result<service::BundleResult> run(const std::string& text) {
    json::ParseOptions po;
    po.preserve_numbers = true;
    auto doc = json::parse(text, po);
    REQUIRE(doc.ok());
    return bp->process(std::move(*doc), opt);
  }
  // Stored current resource (parsed), or null when absent/deleted.
  json::Value read(const std::string& type, const std::string& id) {
    json::Value out;
    app->db->read([&](store::Conn& c) -> Status {
      auto v = app->resources->read(c, type, id);
      if (v) out = *fhir::parse_resource(v->body);
      return Status();
    });
    return out;
  }
  size_t count(const std::string& type, const std::string& query = "") {
    size_t n = 0;
    app->db->read([&](store::Conn& c) -> Status {
      auto m = store::resolve_matches(c, type, query, 100000, kBase);
      REQUIRE(m.ok());
      n = m->size();
      return Status();
    });
    return n;
  }
  void put(const std::string& text) {
    auto r = fhir::parse_resource(text);
    REQUIRE(r.ok());
    std::string type = fhir::resource_type_of(*r);
    std::string id = *json::get_string(*r, "id");
    REQUIRE(app->repo->update(type, id, std::move(*r)).ok());
  }
};

std::string ref_at(const json::Value& res, const char* member) {
  const json::Value* m = json::get(res, member);
  REQUIRE(m);
  return json::string_or(*m, "reference");
}

}  // namespace

TEST_CASE("bundle: entries are checked before anything runs; messages name the entry", "[bundle]") {
  Env env;
  auto bad = [&](const std::string& text, const std::string& want) {
    auto r = env.run(text);
    REQUIRE_FALSE(r.ok());
    INFO(r.status().message);
    CHECK(r.status().message.find(want) != std::string::npos);
  };
  bad(R"({"resourceType":"Patient"})", "must be a Bundle");
  bad(R"({"resourceType":"Bundle","type":"collection"})", "'transaction' or 'batch'");
  bad(R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"}}]})",
      "entry 0: entry.request is missing");
  bad(R"({"resourceType":"Bundle","type":"transaction","entry":[
        {"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient"}},
        {"fullUrl":"urn:uuid:1","request":{"method":"PUT","url":"Patient"},"resource":{"resourceType":"Patient"}}]})",
      "entry 1 (urn:uuid:1): PUT needs Type/id or Type?search");
  bad(R"({"resourceType":"Bundle","type":"transaction","entry":[
        {"request":{"method":"POST","url":"Observation"},"resource":{"resourceType":"Patient"}}]})",
      "does not match request.url type Observation");
  bad(R"({"resourceType":"Bundle","type":"transaction","entry":[
        {"request":{"method":"FETCH","url":"Patient"}}]})",
      "is not GET, POST, PUT, PATCH or DELETE");
  bad(R"({"resourceType":"Bundle","type":"transaction","entry":[
        {"request":{"method":"GET","url":"http://elsewhere.test/Patient/1"}}]})",
      "is not on this server");
  bad(R"({"resourceType":"Bundle","type":"transaction","entry":[
        {"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","active":null}}]})",
      "entry 0");
  env.opt.max_entries = 1;
  auto r = env.run(R"({"resourceType":"Bundle","type":"batch","entry":[
        {"request":{"method":"GET","url":"Patient/a"}},{"request":{"method":"GET","url":"Patient/b"}}]})");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code == Err::too_large);
  CHECK(env.count("Patient") == 0);
}

TEST_CASE("bundle: transaction resolves urn:uuid, absolute and conditional references everywhere", "[bundle]") {
  Env env;
  env.put(R"({"resourceType":"Organization","id":"org1","identifier":[{"system":"urn:sys","value":"o1"}]})");
  auto r = env.run(R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:0b7e2b1c-0000-4000-8000-000000000002","request":{"method":"POST","url":"Observation"},
     "resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},
       "contained":[{"resourceType":"Organization","id":"contained","name":"C"}],
       "subject":{"reference":"urn:uuid:0b7e2b1c-0000-4000-8000-000000000001"},
       "performer":[{"reference":"Organization?identifier=urn:sys|o1"},{"reference":"#contained"}],
       "hasMember":[{"reference":"http://edge.test/fhir/Observation/abs1"}],
       "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"urn:uuid:0b7e2b1c-0000-4000-8000-000000000001\">p</a></div>"}}},
    {"fullUrl":"urn:uuid:0b7e2b1c-0000-4000-8000-000000000001","request":{"method":"POST","url":"Patient"},
     "resource":{"resourceType":"Patient","managingOrganization":{"reference":"Organization?identifier=urn:sys|o1"}}},
    {"fullUrl":"http://edge.test/fhir/Observation/abs1","request":{"method":"PUT","url":"Observation/abs1"},
     "resource":{"resourceType":"Observation","id":"abs1","status":"final","code":{"text":"y"},
       "subject":{"reference":"urn:uuid:0b7e2b1c-0000-4000-8000-000000000001"}}}]})");
  INFO(r.status().message);
  REQUIRE(r.ok());
  REQUIRE(r->results.size() == 3);
  // results in request order
  CHECK(r->results[0].type == "Observation");
  CHECK(r->results[0].outcome == Outcome::created);
  CHECK(r->results[1].type == "Patient");
  CHECK(r->results[1].outcome == Outcome::created);
  CHECK(r->results[2].id == "abs1");
  CHECK(r->results[2].outcome == Outcome::created);
  std::string pid = r->results[1].id;
  CHECK(pid != "0b7e2b1c-0000-4000-8000-000000000001");  // POST gets a server id
  json::Value obs = env.read("Observation", r->results[0].id);
  CHECK(ref_at(obs, "subject") == "Patient/" + pid);
  const auto& perf = json::get(obs, "performer")->get<json::Array>();
  CHECK(json::string_or(perf[0], "reference") == "Organization/org1");
  CHECK(json::string_or(perf[1], "reference") == "#contained");
  CHECK(json::string_or(json::get(obs, "hasMember")->get<json::Array>()[0], "reference") == "Observation/abs1");
  std::string div = json::string_or(*json::get(obs, "text"), "div");
  CHECK(div.find("Patient/" + pid) != std::string::npos);
  CHECK(div.find("urn:uuid") == std::string::npos);
  CHECK(ref_at(env.read("Patient", pid), "managingOrganization") == "Organization/org1");
  CHECK(ref_at(env.read("Observation", "abs1"), "subject") == "Patient/" + pid);
}

TEST_CASE("bundle: a failing entry rolls the whole transaction back and is named", "[bundle]") {
  Env env;
  env.put(R"({"resourceType":"Patient","id":"keep","active":true})");
  auto fails = [&](const std::string& entry, const std::string& want, Err code) {
    auto r = env.run(R"({"resourceType":"Bundle","type":"transaction","entry":[
      {"fullUrl":"urn:uuid:a","request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","gender":"male"}},
      {"request":{"method":"PUT","url":"Patient/new1"},"resource":{"resourceType":"Patient","id":"new1"}},
      {"request":{"method":"DELETE","url":"Patient/keep"}},
      )" + entry + "]}");
    REQUIRE_FALSE(r.ok());
    INFO(r.status().message);
    CHECK(r.status().message.find(want) != std::string::npos);
    CHECK(r.status().code == code);
    // nothing partial: the POST, the PUT and the DELETE are gone with it
    CHECK(env.count("Patient") == 1);
    CHECK(env.count("Patient", "gender=male") == 0);
    CHECK(env.read("Patient", "keep").is<json::Object>());
    CHECK(env.read("Patient", "new1").is<picojson::null>());
  };
  fails(R"({"request":{"method":"PUT","url":"Patient/keep2","ifMatch":"W/\"7\""},"resource":{"resourceType":"Patient","id":"keep2"}})",
        "entry 3 (PUT Patient/keep2)", Err::precondition);
  fails(R"({"fullUrl":"urn:uuid:b","request":{"method":"POST","url":"Observation"},
           "resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:nowhere"}}})",
        "entry 3 (urn:uuid:b): reference 'urn:uuid:nowhere'", Err::invalid);
  fails(R"({"fullUrl":"urn:uuid:c","request":{"method":"POST","url":"Observation"},
           "resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?identifier=none|0"}}})",
        "entry 3 (urn:uuid:c): conditional reference 'Patient?identifier=none|0' matches no resource", Err::precondition);
  fails(R"({"request":{"method":"GET","url":"Patient/missing"}})", "entry 3 (GET Patient/missing)", Err::not_found);
  fails(R"({"request":{"method":"PUT","url":"Patient/new1"},"resource":{"resourceType":"Patient","id":"new1"}})",
        "more than one entry", Err::invalid);
}

TEST_CASE("bundle: processing order is DELETE, POST, PUT/PATCH, GET whatever the request order", "[bundle]") {
  Env env;
  env.put(R"({"resourceType":"Patient","id":"old","identifier":[{"system":"urn:s","value":"1"}]})");
  auto r = env.run(R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"request":{"method":"GET","url":"Patient?identifier=urn:s|1"}},
    {"request":{"method":"PATCH","url":"Patient/p2"},"resource":{"resourceType":"Binary","contentType":"application/json-patch+json",
      "data":"W3sib3AiOiJhZGQiLCJwYXRoIjoiL2FjdGl2ZSIsInZhbHVlIjp0cnVlfV0="}},
    {"request":{"method":"PUT","url":"Patient/p2"},"resource":{"resourceType":"Patient","id":"p2"}},
    {"fullUrl":"urn:uuid:n","request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:s|1"},
     "resource":{"resourceType":"Patient","identifier":[{"system":"urn:s","value":"1"}]}},
    {"request":{"method":"DELETE","url":"Patient/old"}}]})");
  // PUT p2 and PATCH p2 name one target twice: refused.
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message.find("more than one entry") != std::string::npos);

  r = env.run(R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"request":{"method":"GET","url":"Patient?identifier=urn:s|1"}},
    {"fullUrl":"urn:uuid:n","request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:s|1"},
     "resource":{"resourceType":"Patient","identifier":[{"system":"urn:s","value":"1"}]}},
    {"request":{"method":"DELETE","url":"Patient/old"}}]})");
  REQUIRE(r.ok());
  // DELETE ran first, so ifNoneExist found nothing and the POST created; the GET (listed
  // first) ran last and sees exactly the new one.
  CHECK(r->results[2].outcome == Outcome::deleted);
  CHECK(r->results[1].outcome == Outcome::created);
  auto got = json::parse(r->results[0].body);
  REQUIRE(got.ok());
  const auto& entries = json::get(*got, "entry")->get<json::Array>();
  REQUIRE(entries.size() == 1);
  CHECK(json::string_or(*json::get(entries[0], "resource"), "id") == r->results[1].id);

  // PATCH after POST: a patch may target what a POST of the same Bundle... (PUT/PATCH run after POST)
  env.put(R"({"resourceType":"Patient","id":"p3"})");
  r = env.run(R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"request":{"method":"PATCH","url":"Patient/p3"},"resource":{"resourceType":"Binary","contentType":"application/json-patch+json",
      "data":"W3sib3AiOiJhZGQiLCJwYXRoIjoiL2FjdGl2ZSIsInZhbHVlIjp0cnVlfV0="}},
    {"request":{"method":"GET","url":"Patient/p3"}}]})");
  REQUIRE(r.ok());
  CHECK(r->results[0].outcome == Outcome::updated);
  CHECK(r->results[0].version == 2);
  CHECK(r->results[1].body.find("\"active\":true") != std::string::npos);
}

TEST_CASE("bundle: ifNoneExist, ifMatch, ifNoneMatch and ifModifiedSince", "[bundle]") {
  Env env;
  env.put(R"({"resourceType":"Patient","id":"a","identifier":[{"system":"urn:s","value":"1"}]})");
  env.put(R"({"resourceType":"Patient","id":"b","identifier":[{"system":"urn:s","value":"2"}],"gender":"female"})");
  env.put(R"({"resourceType":"Patient","id":"c","gender":"female"})");
  auto r = env.run(R"({"resourceType":"Bundle","type":"batch","entry":[
    {"request":{"method":"POST","url":"Patient","ifNoneExist":"Patient?identifier=urn:s|1"},"resource":{"resourceType":"Patient"}},
    {"request":{"method":"POST","url":"Patient","ifNoneExist":"gender=female"},"resource":{"resourceType":"Patient"}},
    {"request":{"method":"POST","url":"Patient","ifNoneExist":"bogus-param=1"},"resource":{"resourceType":"Patient"}},
    {"request":{"method":"PUT","url":"Patient/a","ifMatch":"W/\"1\""},"resource":{"resourceType":"Patient","id":"a","active":true}},
    {"request":{"method":"PUT","url":"Patient/b","ifMatch":"W/\"9\""},"resource":{"resourceType":"Patient","id":"b","active":true}},
    {"request":{"method":"PUT","url":"Patient/c","ifNoneMatch":"*"},"resource":{"resourceType":"Patient","id":"c","active":true}},
    {"request":{"method":"PUT","url":"Patient/d","ifNoneMatch":"*"},"resource":{"resourceType":"Patient","id":"d"}},
    {"request":{"method":"GET","url":"Patient/b","ifNoneMatch":"W/\"1\""}},
    {"request":{"method":"GET","url":"Patient/b","ifNoneMatch":"W/\"5\""}},
    {"request":{"method":"GET","url":"Patient/b","ifModifiedSince":"2999-01-01T00:00:00Z"}},
    {"request":{"method":"GET","url":"Patient/b","ifModifiedSince":"Sat, 01 Jan 2000 00:00:00 GMT"}},
    {"request":{"method":"DELETE","url":"Patient/b","ifMatch":"W/\"3\""}}]})");
  REQUIRE(r.ok());
  const auto& x = r->results;
  REQUIRE(x.size() == 12);
  CHECK(x[0].outcome == Outcome::exists);
  CHECK(x[0].id == "a");
  CHECK(x[1].outcome == Outcome::failed);
  CHECK(x[1].error.code == Err::precondition);
  CHECK(x[2].outcome == Outcome::failed);
  CHECK(x[2].error.code == Err::invalid);
  CHECK(x[3].outcome == Outcome::updated);
  CHECK(x[3].version == 2);
  CHECK(x[4].outcome == Outcome::failed);
  CHECK(x[4].error.code == Err::precondition);
  CHECK(x[5].outcome == Outcome::failed);
  CHECK(x[5].error.code == Err::precondition);
  CHECK(x[6].outcome == Outcome::created);
  CHECK(x[7].outcome == Outcome::not_modified);
  CHECK(x[7].body.empty());
  CHECK(x[8].outcome == Outcome::read);
  CHECK(x[9].outcome == Outcome::not_modified);
  CHECK(x[10].outcome == Outcome::read);
  CHECK(x[11].outcome == Outcome::failed);
  CHECK(x[11].error.code == Err::precondition);
  CHECK(r->failed == 5);
  // batch: the failures changed nothing, the rest was written
  CHECK(env.count("Patient") == 4);
  CHECK(env.read("Patient", "b").is<json::Object>());
  CHECK(json::get(env.read("Patient", "a"), "active") != nullptr);
}

TEST_CASE("bundle: batch entries are independent; later entries may use earlier fullUrls", "[bundle]") {
  Env env;
  auto r = env.run(R"({"resourceType":"Bundle","type":"batch","entry":[
    {"fullUrl":"urn:uuid:p","request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient"}},
    {"fullUrl":"urn:uuid:o1","request":{"method":"POST","url":"Observation"},
     "resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:missing"}}},
    {"fullUrl":"urn:uuid:o2","request":{"method":"POST","url":"Observation"},
     "resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:p"}}}]})");
  REQUIRE(r.ok());
  CHECK(r->results[0].outcome == Outcome::created);
  CHECK(r->results[1].outcome == Outcome::failed);
  CHECK(r->results[1].error.message.find("urn:uuid:missing") != std::string::npos);
  CHECK(r->results[2].outcome == Outcome::created);
  CHECK(r->written == 2);
  CHECK(r->failed == 1);
  CHECK(env.count("Observation") == 1);
  CHECK(ref_at(env.read("Observation", r->results[2].id), "subject") == "Patient/" + r->results[0].id);
}

TEST_CASE("bundle: import mode keeps urn:uuid ids and a second run writes nothing", "[bundle]") {
  Env env;
  env.opt.ids_from_urn = true;
  const std::string text = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:6F1D3E4A-0000-4000-8000-0000000000AA","request":{"method":"POST","url":"Patient"},
     "resource":{"resourceType":"Patient","id":"6f1d3e4a-0000-4000-8000-0000000000aa"}},
    {"fullUrl":"urn:uuid:6f1d3e4a-0000-4000-8000-0000000000bb","request":{"method":"POST","url":"Observation"},
     "resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},
       "subject":{"reference":"urn:uuid:6F1D3E4A-0000-4000-8000-0000000000AA"}}},
    {"request":{"method":"PUT","url":"Patient/fixed"},"resource":{"resourceType":"Patient","id":"fixed"}}]})";
  auto r = env.run(text);
  REQUIRE(r.ok());
  CHECK(r->results[0].id == "6f1d3e4a-0000-4000-8000-0000000000aa");
  CHECK(r->results[1].id == "6f1d3e4a-0000-4000-8000-0000000000bb");
  CHECK(r->written == 3);
  CHECK(ref_at(env.read("Observation", "6f1d3e4a-0000-4000-8000-0000000000bb"), "subject") ==
        "Patient/6f1d3e4a-0000-4000-8000-0000000000aa");
  r = env.run(text);
  REQUIRE(r.ok());
  CHECK(r->written == 0);
  CHECK(r->unchanged == 3);
  CHECK(r->results[0].outcome == Outcome::exists);
  CHECK(r->results[2].outcome == Outcome::unchanged);
  CHECK(env.count("Patient") == 2);
  CHECK(env.count("Observation") == 1);
}

TEST_CASE("bundle: conditional update, patch and delete through execute", "[bundle]") {
  Env env;
  for (int i = 0; i < 3; ++i)
    env.put(R"({"resourceType":"Patient","id":"m)" + std::to_string(i) + R"(","gender":"male"})");
  env.put(R"({"resourceType":"Patient","id":"u","identifier":[{"system":"urn:s","value":"u"}]})");
  auto exec = [&](service::EntryRequest e) {
    REQUIRE(service::BundleProcessor::parse_url(e, kBase).ok());
    Result<service::EntryResult> out = Status(Err::internal, "not run");
    Status st = env.app->db->write([&](store::Conn& c) -> Status {
      out = env.bp->execute(c, e, env.opt);
      return out.ok() ? Status() : out.status();
    });
    return out;
  };
  service::EntryRequest e;
  e.method = "PUT";
  e.url = "Patient?identifier=urn:s|u";
  e.resource = *fhir::parse_resource(R"({"resourceType":"Patient","active":true,"identifier":[{"system":"urn:s","value":"u"}]})");
  auto r = exec(e);
  REQUIRE(r.ok());
  CHECK(r->id == "u");
  CHECK(r->outcome == Outcome::updated);
  // no match: creates (with the body's id when given)
  e.url = "Patient?identifier=urn:s|zz";
  e.resource = *fhir::parse_resource(R"({"resourceType":"Patient","id":"zz"})");
  r = exec(e);
  REQUIRE(r.ok());
  CHECK(r->outcome == Outcome::created);
  CHECK(r->id == "zz");
  // no match, but the body's id names a resource that exists (and did not match): 409
  e.url = "Patient?identifier=urn:s|nobody";
  e.resource = *fhir::parse_resource(R"({"resourceType":"Patient","id":"m0"})");
  r = exec(e);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code == Err::conflict);
  CHECK(env.read("Patient", "m0").is<json::Object>());
  CHECK(json::string_or(env.read("Patient", "m0"), "gender") == "male");
  // several matches: 412
  e.url = "Patient?gender=male";
  e.resource = *fhir::parse_resource(R"({"resourceType":"Patient"})");
  r = exec(e);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code == Err::precondition);
  // unknown parameter: 400 (strict)
  e.url = "Patient?nonsense=1";
  r = exec(e);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code == Err::invalid);
  // delete: single mode refuses several matches, _count mode deletes them all
  service::EntryRequest d;
  d.method = "DELETE";
  d.url = "Patient?gender=male";
  r = exec(d);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code == Err::precondition);
  CHECK(env.count("Patient", "gender=male") == 3);
  d.max_deletes = 2;
  r = exec(d);
  REQUIRE_FALSE(r.ok());
  CHECK(env.count("Patient", "gender=male") == 3);
  d.max_deletes = 3;
  r = exec(d);
  REQUIRE(r.ok());
  CHECK(r->deleted.size() == 3);
  CHECK(env.count("Patient", "gender=male") == 0);
  // no match: success, nothing deleted
  r = exec(d);
  REQUIRE(r.ok());
  CHECK(r->deleted.empty());
  // conditional patch
  service::EntryRequest p;
  p.method = "PATCH";
  p.url = "Patient?identifier=urn:s|u";
  p.patch = *json::parse(R"([{"op":"replace","path":"/active","value":false}])");
  r = exec(p);
  REQUIRE(r.ok());
  CHECK(r->id == "u");
  CHECK(r->body.find("\"active\":false") != std::string::npos);
  p.url = "Patient?identifier=urn:s|nothing";
  r = exec(p);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code == Err::not_found);
}
