// The route table (http/routes.h): for each method + path, the interaction the policy will
// decide, whether the route is public, the type and id it names, and the error plans (404
// for unknown types and paths, 405 for wrong methods) with their status once run.  Handlers
// themselves are not run here (they need a database: the e2e tests cover them).
#include <catch2/catch.hpp>

#include <httplib.h>

#include <string>

#include "auth/policy.h"
#include "http/app.h"
#include "http/context.h"
#include "http/routes.h"

using namespace ef;
using namespace ef::http;

namespace {

struct Routed {
  Plan plan;
  std::string type, id;
  int status = 0;  // for error plans: the status they answer with
  bool error = false;
};

Routed route(App& app, const std::string& method, const std::string& target) {
  httplib::Request req;
  req.method = method;
  req.target = target;
  req.path = target.substr(0, target.find('?'));
  httplib::Response res;
  Ctx c(req, res, app);
  REQUIRE(split_path(req.path, &c.seg));
  Routed r;
  r.plan = plan_route(c);
  r.type = c.type;
  r.id = c.id;
  r.error = r.plan.label && std::string(r.plan.label) == "invalid";
  if (r.error) {
    r.plan.run(c);
    r.status = res.status;
  }
  return r;
}

}  // namespace

TEST_CASE("routes: every FHIR interaction maps to its policy interaction, type and id", "[http][routes]") {
  App app;
  struct Row {
    const char* method;
    const char* target;
    const char* interaction;
    const char* type;
    const char* id;
    bool is_public;
  };
  const Row rows[] = {
      {"GET", "/metadata", "capabilities", "", "", true},
      {"GET", "/.well-known/smart-configuration", "capabilities", "", "", true},
      {"GET", "/health", "capabilities", "", "", true},
      {"GET", "/metrics", "admin", "", "", false},
      {"POST", "/", "transaction", "", "", false},
      {"GET", "/", "search-system", "", "", false},
      {"GET", "/?_type=Patient", "search-system", "", "", false},
      {"POST", "/_search", "search-system", "", "", false},
      {"GET", "/_history", "history-system", "", "", false},
      {"GET", "/$export", "export", "", "", false},
      {"GET", "/$meta", "search-system", "", "", false},
      {"GET", "/Patient", "search-type", "Patient", "", false},
      {"HEAD", "/Patient", "search-type", "Patient", "", false},
      {"POST", "/Patient/_search", "search-type", "Patient", "", false},
      {"POST", "/Patient", "create", "Patient", "", false},
      {"PUT", "/Patient?identifier=x", "update", "Patient", "", false},
      {"PATCH", "/Patient?identifier=x", "patch", "Patient", "", false},
      {"DELETE", "/Patient?identifier=x", "delete", "Patient", "", false},
      {"GET", "/Patient/_history", "history-type", "Patient", "", false},
      {"GET", "/Patient/$meta", "search-type", "Patient", "", false},
      // terminology (issue 21): type level needs only an authenticated caller (decided as
      // capabilities, not public); instance level is a read of the definition
      {"GET", "/ValueSet/$expand", "capabilities", "ValueSet", "", false},
      {"POST", "/ValueSet/$validate-code", "capabilities", "ValueSet", "", false},
      {"GET", "/CodeSystem/$lookup", "capabilities", "CodeSystem", "", false},
      {"GET", "/CodeSystem/$subsumes", "capabilities", "CodeSystem", "", false},
      {"GET", "/ConceptMap/$translate", "capabilities", "ConceptMap", "", false},
      {"GET", "/ValueSet/v1/$expand", "read", "ValueSet", "v1", false},
      {"POST", "/CodeSystem/c1/$lookup", "read", "CodeSystem", "c1", false},
      {"GET", "/ConceptMap/m1/$translate", "read", "ConceptMap", "m1", false},
      {"GET", "/Patient/p1", "read", "Patient", "p1", false},
      {"PUT", "/Patient/p1", "update", "Patient", "p1", false},
      {"PATCH", "/Patient/p1", "patch", "Patient", "p1", false},
      {"DELETE", "/Patient/p1", "delete", "Patient", "p1", false},
      {"GET", "/Patient/p1/_history", "history-instance", "Patient", "p1", false},
      {"GET", "/Patient/p1/_history/2", "vread", "Patient", "p1", false},
      {"GET", "/Patient/p1/$meta", "read", "Patient", "p1", false},
      {"POST", "/Patient/p1/$meta-add", "update", "Patient", "p1", false},
      {"POST", "/Patient/p1/$meta-delete", "update", "Patient", "p1", false},
      {"GET", "/Patient/p1/_history/2/$meta", "vread", "Patient", "p1", false},
      {"GET", "/Patient/p1/Observation", "search-compartment", "Observation", "p1", false},
      {"GET", "/Patient/p1/*", "search-compartment", "", "p1", false},
      {"GET", "/Patient/a%2Fb", "read", "Patient", "a/b", false},
  };
  for (const Row& row : rows) {
    INFO(row.method << " " << row.target);
    Routed r = route(app, row.method, row.target);
    CHECK_FALSE(r.error);
    CHECK(std::string(auth::interaction_name(r.plan.interaction)) == row.interaction);
    CHECK(r.type == row.type);
    CHECK(r.id == row.id);
    CHECK(r.plan.public_ == row.is_public);
    CHECK(r.plan.run);
  }
}

TEST_CASE("routes: /metrics is public only when configured so", "[http][routes]") {
  App app;
  CHECK_FALSE(route(app, "GET", "/metrics").plan.public_);
  app.metrics_public = true;
  CHECK(route(app, "GET", "/metrics").plan.public_);
}

TEST_CASE("routes: unknown types and paths are 404 plans, wrong methods 405", "[http][routes]") {
  App app;
  struct Row {
    const char* method;
    const char* target;
    int status;
  };
  const Row rows[] = {
      {"GET", "/Patients", 404},                        // not an R4 type
      {"GET", "/Patient/p1/_history/2/extra", 404},     // no interaction there
      {"GET", "/Patient/p1/NotAType", 404},
      {"POST", "/metadata", 405},
      {"DELETE", "/", 405},
      {"GET", "/_search", 405},
      {"DELETE", "/Patient", 405},                      // unconditional type-level delete
      {"PUT", "/Patient", 405},
      {"POST", "/Patient/p1", 405},
      {"PUT", "/Patient/p1/_history", 405},
      {"POST", "/Patient/p1/_history/2", 405},
      {"GET", "/Patient/p1/$meta-add", 405},
      {"POST", "/Patient/p1/_history/2/$meta-add", 405},  // stored versions never change
  };
  for (const Row& row : rows) {
    INFO(row.method << " " << row.target);
    Routed r = route(app, row.method, row.target);
    CHECK(r.error);
    CHECK(r.plan.public_);  // refused before any token is looked at: nothing is disclosed
    CHECK(r.status == row.status);
  }
}

TEST_CASE("routes: split_path decodes segments and refuses broken escapes", "[http][routes]") {
  std::vector<std::string> seg;
  REQUIRE(split_path("//Patient//a%20b/", &seg));
  CHECK(seg == std::vector<std::string>{"Patient", "a b"});
  seg.clear();
  CHECK_FALSE(split_path("/Patient/%zz", &seg));
  seg.clear();
  CHECK_FALSE(split_path("/Patient/%4", &seg));
}
