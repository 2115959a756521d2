// tests/unit/service/access_test.cpp — service::Access, the restriction code every data path
// goes through: require() with the policy's reason, restricted()/only_patient() for a patient
// compartment, permits() in memory and check_write() on proposed content.
#include <catch2/catch.hpp>

#include "auth/policy.h"
#include "fhir/indexer.h"
#include "service/access.h"

using namespace ef;
using auth::Interaction;

namespace {

auth::PrincipalPtr who(std::vector<std::string> roles, std::vector<std::string> scopes, std::string patient = "") {
  auto p = std::make_shared<auth::Principal>();
  p->authenticated = true;
  p->issuer = "https://idp.example.org";
  p->subject = "sub-1";
  p->roles = std::move(roles);
  p->scopes = std::move(scopes);
  p->patient = std::move(patient);
  return p;
}

fhir::IndexRows rows_of(const std::string& json) {
  auto v = json::parse(json);
  REQUIRE(v.ok());
  fhir::IndexRows rows;
  fhir::extract_index(*v, &rows);
  return rows;
}

}  // namespace

TEST_CASE("Access::unrestricted allows everything and has no view", "[service][access]") {
  const service::Access& a = service::Access::unrestricted();
  CHECK(a.is_unrestricted());
  CHECK(a.require(Interaction::del, "Patient", "1").ok());
  CHECK(a.view(Interaction::search_type) == nullptr);
  CHECK_FALSE(a.restricted(Interaction::read, "Observation"));
  CHECK(a.only_patient(Interaction::read, "Observation").empty());
  CHECK(a.check_write(Interaction::create, "Observation", "", rows_of(R"({"resourceType":"Observation","status":"final",
      "code":{"text":"x"},"subject":{"reference":"Patient/other"}})"), true).ok());
}

TEST_CASE("Access for a patient-scoped caller: reads and writes limited to the compartment", "[service][access]") {
  auth::Policy policy;
  service::Access a(&policy, who({"FHIR Data Writer"}, {"patient/*.cruds"}, "p1"));
  CHECK_FALSE(a.is_unrestricted());
  CHECK(a.require(Interaction::read, "Observation", "o1").ok());
  CHECK(a.restricted(Interaction::read, "Observation"));
  CHECK(a.only_patient(Interaction::search_type, "Observation") == "p1");
  CHECK(a.view(Interaction::search_type) != nullptr);

  auto own = rows_of(R"({"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},
      "subject":{"reference":"Patient/p1"}})");
  auto other = rows_of(R"({"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},
      "subject":{"reference":"Patient/p2"}})");
  CHECK(a.permits(Interaction::read, "Observation", "o1", own));
  CHECK_FALSE(a.permits(Interaction::read, "Observation", "o2", other));
  CHECK(a.check_write(Interaction::create, "Observation", "", own, true).ok());
  Status st = a.check_write(Interaction::create, "Observation", "", other, true);
  CHECK(st.code == Err::forbidden);
  CHECK(st.message.find("p2") == std::string::npos);  // names no resource

  // a Patient can only be the patient's own, and is never created
  CHECK(a.permits(Interaction::read, "Patient", "p1", rows_of(R"({"resourceType":"Patient","id":"p1"})")));
  CHECK_FALSE(a.permits(Interaction::read, "Patient", "p2", rows_of(R"({"resourceType":"Patient","id":"p2"})")));
  CHECK_FALSE(a.check_write(Interaction::create, "Patient", "p9", rows_of(R"({"resourceType":"Patient","id":"p9"})"), true).ok());
}

TEST_CASE("Access refuses with the policy's reason", "[service][access]") {
  auth::Policy policy;
  service::Access reader(&policy, who({"FHIR Data Reader"}, {}));
  CHECK(reader.require(Interaction::read, "Observation", "1").ok());
  Status st = reader.require(Interaction::del, "Observation", "1");
  CHECK(st.code == Err::forbidden);
  CHECK(st.message.rfind("forbidden: ", 0) == 0);
  CHECK(st.message.find("delete") != std::string::npos);

  service::Access nobody(&policy, who({}, {}));
  CHECK_FALSE(nobody.require(Interaction::read, "Observation", "1").ok());
  CHECK_FALSE(nobody.require(Interaction::search_system, "").ok());
}
