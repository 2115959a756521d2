// SMART scope grammar (auth/scopes.h).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "auth/scopes.h"

using namespace ef;
using auth::ScopeLevel;

TEST_CASE("clinical scopes parse: v1, v2, wildcards, levels", "[policy]") {
  struct Row {
    const char* raw;
    ScopeLevel level;
    const char* type;
    const char* letters;
    bool v2;
    const char* text;
  };
  const Row rows[] = {
      {"patient/Observation.read", ScopeLevel::patient, "Observation", "rs", false, "patient/Observation.read"},
      {"user/*.write", ScopeLevel::user, "*", "cud", false, "user/*.write"},
      {"system/*.*", ScopeLevel::system, "*", "cruds", false, "system/*.*"},
      {"patient/Patient.*", ScopeLevel::patient, "Patient", "cruds", false, "patient/Patient.*"},
      {"patient/Observation.rs", ScopeLevel::patient, "Observation", "rs", true, "patient/Observation.rs"},
      {"user/Encounter.cruds", ScopeLevel::user, "Encounter", "cruds", true, "user/Encounter.cruds"},
      {"user/Encounter.cd", ScopeLevel::user, "Encounter", "cd", true, "user/Encounter.cd"},
      {"system/Group.s", ScopeLevel::system, "Group", "s", true, "system/Group.s"},
      {"patient%2fObservation.read", ScopeLevel::patient, "Observation", "rs", false, "patient/Observation.read"},
      {"patient%2FObservation.rs", ScopeLevel::patient, "Observation", "rs", true, "patient/Observation.rs"},
      {"patient.Observation.read", ScopeLevel::patient, "Observation", "rs", false, "patient/Observation.read"},
      {"user.all.read", ScopeLevel::user, "*", "rs", false, "user/all.read"},
      {"system.*.rs", ScopeLevel::system, "*", "rs", true, "system/*.rs"},
  };
  for (const Row& r : rows) {
    INFO(r.raw);
    auth::ClinicalScope c;
    std::string why;
    REQUIRE(auth::parse_clinical_scope(r.raw, &c, &why) == 1);
    CHECK(c.level == r.level);
    CHECK(c.type == r.type);
    CHECK(auth::scope_perm_letters(c.perms) == r.letters);
    CHECK(c.v2 == r.v2);
    CHECK(c.params.empty());
    CHECK(c.text == r.text);
  }
}

TEST_CASE("v2 constraints are split and percent-decoded", "[policy]") {
  auth::ClinicalScope c;
  REQUIRE(auth::parse_clinical_scope("patient/Observation.rs?category=laboratory", &c) == 1);
  REQUIRE(c.params.size() == 1);
  CHECK(c.params[0] == auth::ScopeParam("category", "laboratory"));
  CHECK(c.text == "patient/Observation.rs?category=laboratory");

  REQUIRE(auth::parse_clinical_scope(
              "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category%7Cvital-signs&code:in=http%3A%2F%2Fx%2Fvs",
              &c) == 1);
  REQUIRE(c.params.size() == 2);
  CHECK(c.params[0].second == "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs");
  CHECK(c.params[1] == auth::ScopeParam("code:in", "http://x/vs"));

  // Entra: '/' and '?' encoded; the encoded query is decoded once, values keep their own escapes.
  REQUIRE(auth::parse_clinical_scope("patient%2fObservation.rs%3fcategory%3dlaboratory%26status%3dfinal", &c) == 1);
  CHECK(c.level == ScopeLevel::patient);
  CHECK(c.text == "patient/Observation.rs?category=laboratory&status=final");
  REQUIRE(c.params.size() == 2);
  CHECK(c.params[1] == auth::ScopeParam("status", "final"));

  // A %2f inside a constraint value is the value's own business.
  REQUIRE(auth::parse_clinical_scope("user/Observation.rs?subject=Patient%2f1", &c) == 1);
  CHECK(c.params[0] == auth::ScopeParam("subject", "Patient/1"));
}

TEST_CASE("malformed clinical scopes are reported, other scopes are not errors", "[policy]") {
  const char* bad[] = {
      "patient/Observation.rc",      // letters out of order
      "patient/Observation.rr",      // repeated letter
      "patient/Observation.x",       // unknown permission
      "patient/Observation.",        // empty permission
      "patient/Observation",         // no permission
      "user/observation.read",       // not a resource type
      "user/Obs-ervation.read",
      "system/*.rs?",                // empty constraint
      "system/*.rs?category",        // no '='
      "system/*.rs?=x",              // no name
      "system/*.rs?a=1&",            // trailing '&'
      "patient/Observation.readwrite",
  };
  for (const char* b : bad) {
    INFO(b);
    std::string why;
    CHECK(auth::parse_clinical_scope(b, nullptr, &why) == -1);
    CHECK_FALSE(why.empty());
  }
  const char* other[] = {"openid", "fhirUser", "profile", "launch", "launch/patient", "launch.patient", "offline_access",
                         "online_access", "user_impersonation", "api://edgefhir/.default", "https://fhir.example/.default",
                         "patients/Observation.read"};
  for (const char* o : other) {
    INFO(o);
    CHECK(auth::parse_clinical_scope(o, nullptr) == 0);
  }

  auto set = auth::parse_scopes({"openid", "", "patient%2fObservation.read", "user/Observation.sr", "launch/patient"});
  REQUIRE(set.clinical.size() == 1);
  CHECK(set.clinical[0].text == "patient/Observation.read");
  CHECK(set.invalid == std::vector<std::string>{"user/Observation.sr"});
  CHECK(set.other == std::vector<std::string>{"openid", "launch/patient"});
}

TEST_CASE("permission letter helpers", "[policy]") {
  CHECK(auth::scope_perm_letters(auth::kScopeSearch | auth::kScopeCreate) == "cs");
  CHECK(auth::scope_perm_v1(auth::kScopeRead | auth::kScopeSearch) == "read");
  CHECK(auth::scope_perm_v1(auth::kScopeCreate | auth::kScopeUpdate | auth::kScopeDelete) == "write");
  CHECK(auth::scope_perm_v1(auth::kScopeAll) == "*");
  CHECK(auth::scope_perm_v1(auth::kScopeRead) == "");
  CHECK(auth::percent_decode("a%2Fb%zz%4") == "a/b%zz%4");
  CHECK(auth::normalize_scope("system.Patient.read") == "system/Patient.read");
  CHECK(auth::normalize_scope("launch.patient") == "launch.patient");
}
