// Decision matrix of auth/policy: roles x scopes x interactions x compartment.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "auth/policy.h"
#include "store/audit.h"

using namespace ef;
using auth::Interaction;

namespace {

auth::Principal who(std::vector<std::string> roles, std::vector<std::string> scopes, std::string patient = "",
                    std::string fhir_user = "") {
  auth::Principal p;
  p.authenticated = true;
  p.issuer = "https://login.microsoftonline.com/t1/v2.0";
  p.subject = "sub-1";
  p.roles = std::move(roles);
  p.scopes = std::move(scopes);
  p.patient = std::move(patient);
  p.fhir_user = std::move(fhir_user);
  return p;
}

// Interactions in matrix column order, each with the request used for it.
struct Col {
  Interaction i;
  const char* type;
  const char* id;
  const char* perm;   // role permission it needs ("" = any / none)
  const char* scope;  // user-level scope suggestion when denied, v2 + v1 text
};
const std::vector<Col>& columns() {
  static const std::vector<Col> k = {
      {Interaction::read, "Observation", "1", "read", "scope user/Observation.r (v1: user/Observation.read)"},
      {Interaction::vread, "Observation", "1", "read", "scope user/Observation.r (v1: user/Observation.read)"},
      {Interaction::search_type, "Observation", "", "read", "scope user/Observation.s (v1: user/Observation.read)"},
      {Interaction::search_system, "", "", "read", "scope user/*.s (v1: user/*.read)"},
      {Interaction::search_compartment, "Observation", "", "read", "scope user/Observation.s (v1: user/Observation.read)"},
      {Interaction::history_instance, "Observation", "1", "read", "scope user/Observation.r (v1: user/Observation.read)"},
      {Interaction::history_type, "Observation", "", "read", "scope user/Observation.s (v1: user/Observation.read)"},
      {Interaction::history_system, "", "", "read", "scope user/*.s (v1: user/*.read)"},
      {Interaction::create, "Observation", "", "write", "scope user/Observation.c (v1: user/Observation.write)"},
      {Interaction::update, "Observation", "1", "write", "scope user/Observation.u (v1: user/Observation.write)"},
      {Interaction::patch, "Observation", "1", "write", "scope user/Observation.u (v1: user/Observation.write)"},
      {Interaction::del, "Observation", "1", "delete", "scope user/Observation.d (v1: user/Observation.write)"},
      {Interaction::transaction, "", "", "", "any SMART clinical scope"},
      {Interaction::batch, "", "", "", "any SMART clinical scope"},
      {Interaction::capabilities, "", "", "", ""},
      {Interaction::everything, "Patient", "1", "read", "scope user/*.rs (v1: user/*.read)"},
      {Interaction::export_, "", "", "export", "scope system/*.rs (v1: system/*.read)"},
      {Interaction::import_, "", "", "import", "scope system/*.cruds (v1: system/*.*)"},
      {Interaction::validate, "Observation", "", "validate", "scope user/Observation.r (v1: user/Observation.read)"},
      {Interaction::admin, "", "", "admin", "scope system/*.cruds (v1: system/*.*)"},
  };
  return k;
}

auth::Request request_for(const Col& c) {
  auth::Request r;
  r.interaction = c.i;
  r.type = c.type;
  r.id = c.id;
  if (c.i == Interaction::admin) r.operation = "$reindex";
  return r;
}

}  // namespace

TEST_CASE("each default role x each interaction (roles only)", "[policy]") {
  // Columns: read vread search-type search-system search-compartment history-instance
  // history-type history-system create update patch delete transaction batch
  // capabilities everything export import validate admin.
  struct RoleRow {
    const char* role;
    const char* allowed;  // one char per column: Y allowed, - refused
    bool data_role;       // refusal names only the role permission
  };
  const RoleRow rows[] = {
      {"FHIR Data Reader", "YYYYYYYY----YYYY----", true},
      {"FHIR Data Writer", "YYYYYYYYYYYYYYYY----", true},
      {"FHIR Data Contributor", "YYYYYYYYYYYYYYYYYYYY", true},
      {"FHIR Data Exporter", "YYYYYYYY----YYYYY---", true},
      {"FHIR Data Importer", "YYYYYYYY----YYYY-Y--", true},
      {"FHIR SMART User", "--------------Y-----", false},
      {"globalReader", "YYYYYYYY----YYYY----", true},
      {"globalWriter", "YYYYYYYYYYYYYYYY----", true},
      {"globalAdmin", "YYYYYYYYYYYYYYYYYYYY", true},
      {"globalExporter", "YYYYYYYY----YYYYY---", true},
      {"globalImporter", "YYYYYYYY----YYYY-Y--", true},
      {"Administrator", "--------------Y-----", false},  // unknown role: grants nothing
      {"fhir data reader", "--------------Y-----", false},  // names match exactly
      {nullptr, "--------------Y-----", false},            // no roles at all
  };
  auth::Policy policy;
  for (const RoleRow& row : rows) {
    REQUIRE(std::string(row.allowed).size() == columns().size());
    for (size_t c = 0; c < columns().size(); ++c) {
      const Col& col = columns()[c];
      auto p = who(row.role ? std::vector<std::string>{row.role} : std::vector<std::string>{}, {"openid", "user_impersonation"});
      auth::Decision d = policy.decide(p, request_for(col));
      INFO("role " << (row.role ? row.role : "(none)") << ", " << auth::interaction_name(col.i) << ": " << d.reason);
      const bool expect = row.allowed[c] == 'Y';
      CHECK(d.allowed == expect);
      if (expect) {
        CHECK(d.unrestricted());
        CHECK(d.missing_permission.empty());
        continue;
      }
      std::string role_part = *col.perm ? "role permission '" + std::string(col.perm) + "'" : "a role with any data permission";
      std::string expected = row.data_role ? role_part : role_part + " or " + col.scope;
      CHECK(d.missing_permission == expected);
      CHECK(d.reason.find(d.missing_permission) != std::string::npos);
    }
  }
}

namespace {

struct Row {
  const char* name;
  std::vector<std::string> roles;
  std::vector<std::string> scopes;
  std::string patient;
  std::string fhir_user;
  Interaction interaction;
  std::string type;
  std::string id;
  bool allowed;
  std::string missing;      // exact missing_permission when refused
  std::string compartment;  // expected compartment_patient when allowed
  size_t alternatives;      // expected constraints.size() when allowed
};

const Interaction R = Interaction::read;
const Interaction S = Interaction::search_type;
const Interaction C = Interaction::create;

}  // namespace

TEST_CASE("decision matrix: SMART scopes, compartments, constraints and the role ceiling", "[policy]") {
  const std::vector<Row> rows = {
      // ---- SMART v1, patient/ ----
      {"v1 patient read in compartment", {}, {"patient/Observation.read"}, "123", "", R, "Observation", "1", true, "", "123", 1},
      {"v1 patient read covers search", {}, {"patient/Observation.read"}, "123", "", S, "Observation", "", true, "", "123", 1},
      {"v1 patient read cannot create", {}, {"patient/Observation.read"}, "123", "", C, "Observation", "", false,
       "scope patient/Observation.c (v1: patient/Observation.write)", "", 0},
      {"v1 patient write can create", {}, {"patient/Observation.write"}, "123", "", C, "Observation", "", true, "", "123", 1},
      {"v1 patient write cannot read", {}, {"patient/Observation.write"}, "123", "", R, "Observation", "1", false,
       "scope patient/Observation.r (v1: patient/Observation.read)", "", 0},
      {"patient scope without patient context", {}, {"patient/Observation.read"}, "", "", R, "Observation", "1", false,
       "a patient context ('patient' claim or a Patient fhirUser) for scope patient/Observation.read", "", 0},
      {"patient scope, fhirUser is a Practitioner", {}, {"patient/*.read"}, "", "Practitioner/9", R, "Observation", "1", false,
       "a patient context ('patient' claim or a Patient fhirUser) for scope patient/*.read", "", 0},
      {"patient context from fhirUser reference", {}, {"patient/*.read"}, "", "Patient/abc", R, "Condition", "1", true, "", "abc", 1},
      {"patient context from fhirUser URL", {}, {"patient/*.read"}, "", "https://ehr.example/fhir/Patient/abc", S, "Condition", "",
       true, "", "abc", 1},
      {"patient claim wins over fhirUser", {}, {"patient/*.read"}, "p1", "Patient/abc", R, "Condition", "1", true, "", "p1", 1},
      {"patient/*.* deletes in compartment", {}, {"patient/*.*"}, "p1", "", Interaction::del, "Observation", "1", true, "", "p1", 1},
      // ---- user/ and system/ ----
      {"user write creates unrestricted", {}, {"user/*.write"}, "", "Practitioner/9", C, "Observation", "", true, "", "", 0},
      {"user write cannot read", {}, {"user/*.write"}, "", "", R, "Observation", "1", false,
       "scope user/Observation.r (v1: user/Observation.read)", "", 0},
      {"user scope of a Patient user is confined", {}, {"user/*.read"}, "", "Patient/abc", R, "Observation", "1", true, "", "abc", 1},
      {"system scope ignores fhirUser", {}, {"system/*.read"}, "", "Patient/abc", R, "Observation", "1", true, "", "", 0},
      {"system/*.* deletes", {}, {"system/*.*"}, "", "", Interaction::del, "Observation", "1", true, "", "", 0},
      {"system/*.* imports", {}, {"system/*.*"}, "", "", Interaction::import_, "", "", true, "", "", 0},
      {"system/*.* runs admin operations", {}, {"system/*.*"}, "", "", Interaction::admin, "", "", true, "", "", 0},
      {"system/*.read exports", {}, {"system/*.read"}, "", "", Interaction::export_, "", "", true, "", "", 0},
      {"system type scope exports that type", {}, {"system/Observation.rs"}, "", "", Interaction::export_, "Observation", "",
       true, "", "", 0},
      {"user/*.* cannot export", {}, {"user/*.*"}, "", "", Interaction::export_, "", "", false,
       "scope system/*.rs (v1: system/*.read)", "", 0},
      {"user/*.* cannot import", {}, {"user/*.*"}, "", "", Interaction::import_, "", "", false,
       "scope system/*.cruds (v1: system/*.*)", "", 0},
      {"system/*.read cannot import", {}, {"system/*.read"}, "", "", Interaction::import_, "", "", false,
       "scope system/*.cruds (v1: system/*.*)", "", 0},
      // ---- SMART v2 letters ----
      {"v2 rs reads", {}, {"patient/Observation.rs"}, "1", "", R, "Observation", "9", true, "", "1", 1},
      {"v2 rs searches", {}, {"patient/Observation.rs"}, "1", "", S, "Observation", "", true, "", "1", 1},
      {"v2 r alone cannot search", {}, {"patient/Observation.r"}, "1", "", S, "Observation", "", false,
       "scope patient/Observation.s (v1: patient/Observation.read)", "", 0},
      {"v2 s alone cannot read", {}, {"patient/Observation.s"}, "1", "", R, "Observation", "1", false,
       "scope patient/Observation.r (v1: patient/Observation.read)", "", 0},
      {"v2 r reads history of an instance", {}, {"patient/Observation.r"}, "1", "", Interaction::history_instance,
       "Observation", "1", true, "", "1", 1},
      {"v2 s reads type history", {}, {"user/Observation.s"}, "", "", Interaction::history_type, "Observation", "", true, "", "", 0},
      {"v2 cud updates", {}, {"user/Observation.cud"}, "", "", Interaction::update, "Observation", "1", true, "", "", 0},
      {"v2 cud patches", {}, {"user/Observation.cud"}, "", "", Interaction::patch, "Observation", "1", true, "", "", 0},
      {"v2 c cannot update", {}, {"user/Observation.c"}, "", "", Interaction::update, "Observation", "1", false,
       "scope user/Observation.u (v1: user/Observation.write)", "", 0},
      {"v2 cruds deletes", {}, {"user/Observation.cruds"}, "", "", Interaction::del, "Observation", "1", true, "", "", 0},
      {"v2 letters out of order refuse the token", {}, {"patient/Observation.sr"}, "1", "", R, "Observation", "1", false,
       "well-formed SMART scopes", "", 0},
      // ---- wildcard and type matching ----
      {"wildcard type reads any type", {}, {"user/*.rs"}, "", "", R, "Patient", "1", true, "", "", 0},
      {"type scope does not read other types", {}, {"user/Observation.rs"}, "", "", R, "Patient", "1", false,
       "scope user/Patient.r (v1: user/Patient.read)", "", 0},
      {"system-wide search needs a wildcard", {}, {"user/Observation.rs"}, "", "", Interaction::search_system, "", "", false,
       "scope user/*.s (v1: user/*.read)", "", 0},
      {"system-wide search with wildcard", {}, {"user/*.rs"}, "", "", Interaction::search_system, "", "", true, "", "", 0},
      {"compartment search on the searched type", {}, {"patient/Observation.rs"}, "1", "", Interaction::search_compartment,
       "Observation", "", true, "", "1", 1},
      {"$everything with patient/*.rs", {}, {"patient/*.rs"}, "123", "", Interaction::everything, "Patient", "123", true, "",
       "123", 1},
      {"$everything needs a wildcard", {}, {"patient/Observation.rs", "patient/Patient.rs"}, "123", "",
       Interaction::everything, "Patient", "123", false, "scope patient/*.rs (v1: patient/*.read)", "", 0},
      {"$validate with read scope", {}, {"user/Observation.r"}, "", "", Interaction::validate, "Observation", "", true, "", "", 0},
      // ---- v2 constraints ----
      {"constraint restricts search", {}, {"patient/Observation.rs?category=laboratory"}, "123", "", S, "Observation", "", true,
       "", "123", 1},
      {"two constrained scopes are alternatives", {},
       {"patient/Observation.rs?category=laboratory", "patient/Observation.rs?category=vital-signs"}, "123", "", S,
       "Observation", "", true, "", "123", 2},
      {"unconstrained scope absorbs constrained one", {},
       {"patient/Observation.rs?category=laboratory", "patient/Observation.rs"}, "123", "", S, "Observation", "", true, "",
       "123", 1},
      {"mixed levels keep both alternatives", {}, {"user/Observation.rs?category=laboratory", "patient/Observation.rs"}, "123",
       "", S, "Observation", "", true, "", "", 2},
      {"system scope makes it unrestricted", {}, {"patient/Observation.rs", "system/Observation.rs"}, "123", "", S,
       "Observation", "", true, "", "", 0},
      {"constraint on another type does not apply", {}, {"patient/Observation.rs?category=laboratory", "patient/Condition.rs"},
       "123", "", S, "Condition", "", true, "", "123", 1},
      // ---- encodings ----
      {"%2f decoded", {}, {"patient%2fObservation.read"}, "1", "", R, "Observation", "1", true, "", "1", 1},
      {"%2F decoded", {}, {"patient%2FObservation.rs"}, "1", "", S, "Observation", "", true, "", "1", 1},
      {"Entra dotted form", {}, {"patient.Observation.read"}, "1", "", R, "Observation", "1", true, "", "1", 1},
      {"Entra all wildcard", {}, {"patient.all.read"}, "1", "", R, "Condition", "1", true, "", "1", 1},
      // ---- non-SMART and empty tokens ----
      {"only non-SMART scopes grant nothing", {}, {"openid", "fhirUser", "launch/patient", "offline_access", "user_impersonation"},
       "1", "", R, "Observation", "1", false, "role permission 'read' or scope user/Observation.r (v1: user/Observation.read)",
       "", 0},
      {"no roles no scopes", {}, {}, "", "", R, "Observation", "1", false,
       "role permission 'read' or scope user/Observation.r (v1: user/Observation.read)", "", 0},
      {"unknown roles grant nothing", {"Administrator", "Task.Write"}, {}, "", "", S, "Observation", "", false,
       "role permission 'read' or scope user/Observation.s (v1: user/Observation.read)", "", 0},
      {"transaction bundle with any clinical scope", {}, {"patient/Observation.r"}, "1", "", Interaction::transaction, "", "",
       true, "", "", 0},
      {"batch bundle with nothing", {}, {"openid"}, "", "", Interaction::batch, "", "", false,
       "a role with any data permission or any SMART clinical scope", "", 0},
      // ---- roles x scopes: roles are the ceiling, scopes narrow ----
      {"reader with write scopes cannot write", {"FHIR Data Reader"}, {"user/*.cruds"}, "", "", C, "Observation", "", false,
       "role permission 'write'", "", 0},
      {"writer narrowed to patient reads", {"FHIR Data Writer"}, {"patient/Observation.rs"}, "1", "", C, "Observation", "", false,
       "scope patient/Observation.c (v1: patient/Observation.write)", "", 0},
      {"writer narrowed: read in compartment", {"FHIR Data Writer"}, {"patient/Observation.rs"}, "1", "", R, "Observation", "5",
       true, "", "1", 1},
      {"writer narrowed: other type refused", {"FHIR Data Writer"}, {"patient/Observation.rs"}, "1", "", R, "Patient", "1", false,
       "scope patient/Patient.r (v1: patient/Patient.read)", "", 0},
      {"both role and scope missing", {"FHIR Data Reader"}, {"user/*.rs"}, "", "", C, "Observation", "", false,
       "role permission 'write' and scope user/Observation.c (v1: user/Observation.write)", "", 0},
      {"contributor with only non-SMART scopes: roles decide", {"FHIR Data Contributor"}, {"openid", "user_impersonation"}, "",
       "", Interaction::del, "Observation", "1", true, "", "", 0},
      {"roles with patient claim but no scopes stay unrestricted", {"FHIR Data Reader"}, {}, "123", "Patient/123", R,
       "Observation", "1", true, "", "", 0},
      {"SMART User role: scopes decide", {"FHIR SMART User"}, {"patient/*.rs"}, "7", "", S, "Observation", "", true, "", "7", 1},
      {"exporter role with system scope exports", {"FHIR Data Exporter"}, {"system/*.read"}, "", "", Interaction::export_, "", "",
       true, "", "", 0},
  };
  auth::Policy policy;
  for (const Row& row : rows) {
    auth::Request req;
    req.interaction = row.interaction;
    req.type = row.type;
    req.id = row.id;
    auth::Decision d = policy.decide(who(row.roles, row.scopes, row.patient, row.fhir_user), req);
    INFO(row.name << ": " << d.reason);
    CHECK(d.allowed == row.allowed);
    if (row.allowed) {
      CHECK(d.missing_permission.empty());
      CHECK(d.compartment_patient == row.compartment);
      CHECK(d.constraints.size() == row.alternatives);
    } else {
      CHECK(d.missing_permission == row.missing);
      CHECK(d.reason.find(row.missing) != std::string::npos);
      CHECK(d.constraints.empty());
    }
  }
}

TEST_CASE("constraints carry the decoded v2 parameters and their compartment", "[policy]") {
  auth::Policy policy;
  auth::Request req{Interaction::search_type, "Observation", "", ""};

  auto d = policy.decide(who({}, {"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category%7Claboratory&status=final"}, "123"), req);
  REQUIRE(d.allowed);
  REQUIRE(d.constraints.size() == 1);
  CHECK(d.constraints[0].compartment_patient == "123");
  REQUIRE(d.constraints[0].params.size() == 2);
  CHECK(d.constraints[0].params[0] ==
        auth::ScopeParam("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"));
  CHECK(d.constraints[0].params[1] == auth::ScopeParam("status", "final"));

  // Mixed: user-level constrained (no compartment) OR patient-level unconstrained (compartment).
  d = policy.decide(who({}, {"user/Observation.rs?category=laboratory", "patient/Observation.rs"}, "123"), req);
  REQUIRE(d.constraints.size() == 2);
  CHECK(d.compartment_patient.empty());
  CHECK(d.constraints[0].compartment_patient.empty());
  CHECK(d.constraints[0].params == std::vector<auth::ScopeParam>{{"category", "laboratory"}});
  CHECK(d.constraints[1].compartment_patient == "123");
  CHECK(d.constraints[1].params.empty());

  // A user-level scope with the same constraint absorbs the patient-level one.
  d = policy.decide(who({}, {"patient/Observation.rs?category=laboratory", "user/Observation.rs?category=laboratory"}, "9"), req);
  REQUIRE(d.constraints.size() == 1);
  CHECK(d.constraints[0].compartment_patient.empty());
  CHECK(d.constraints[0].scope == "user/Observation.rs?category=laboratory");

  // Duplicate scopes give one alternative.
  d = policy.decide(who({}, {"patient/Observation.rs?code=1", "patient/Observation.rs?code=1"}, "9"), req);
  CHECK(d.constraints.size() == 1);
}

TEST_CASE("refusals explain themselves without leaking anything but names", "[policy]") {
  auth::Policy policy;
  auth::Request create{Interaction::create, "Observation", "", ""};

  auto d = policy.decide(who({"FHIR Data Reader", "Other"}, {}), create);
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == "create Observation requires role permission 'write'; the token's roles (FHIR Data Reader) grant: read");
  CHECK(d.required_scope.empty());

  d = policy.decide(who({}, {"patient/Observation.rs"}, "1"), create);
  CHECK(d.required_scope == "patient/Observation.c");
  CHECK(d.reason ==
        "create Observation requires scope patient/Observation.c (v1: patient/Observation.write); the token's SMART scopes "
        "(patient/Observation.rs) do not cover it");

  d = policy.decide(who({"Task.Write"}, {"openid"}), auth::Request{Interaction::read, "Observation", "1", ""});
  CHECK(d.reason.find("the token's roles (Task.Write) are not FHIR roles") != std::string::npos);
  CHECK(d.reason.find("the token carries no SMART clinical scopes") != std::string::npos);

  d = policy.decide(who({}, {"patient/*.rs"}), auth::Request{Interaction::read, "Observation", "1", ""});
  CHECK(d.reason.find("no 'patient' claim and its fhirUser is not a Patient") != std::string::npos);

  auth::Principal anon;
  d = policy.decide(anon, auth::Request{Interaction::read, "Patient", "1", ""});
  CHECK_FALSE(d.allowed);
  CHECK(d.missing_permission == "authentication");
  d = policy.decide(anon, auth::Request{Interaction::capabilities, "", "", ""});
  CHECK(d.allowed);

  auth::Request reindex{Interaction::admin, "", "", "$reindex"};
  d = policy.decide(who({"FHIR Data Writer"}, {}), reindex);
  CHECK(d.reason.rfind("$reindex requires role permission 'admin'", 0) == 0);
}

TEST_CASE("allowed decisions say what allowed them", "[policy]") {
  auth::Policy policy;
  auth::Request read{Interaction::read, "Observation", "1", ""};
  CHECK(policy.decide(who({"FHIR Data Reader", "FHIR Data Writer", "X"}, {}), read).reason ==
        "roles FHIR Data Reader, FHIR Data Writer");
  CHECK(policy.decide(who({}, {"user/*.rs", "openid"}), read).reason == "scope user/*.rs");
  CHECK(policy.decide(who({"globalReader"}, {"patient/*.rs"}, "5"), read).reason == "role globalReader and scope patient/*.rs");
}

TEST_CASE("scopes_require_role: SMART scopes need a SMART role", "[policy]") {
  auto pj = json::parse(R"({"scopes_require_role": true})");
  REQUIRE(pj.ok());
  auto policy = auth::Policy::from_config(*pj);
  REQUIRE(policy.ok());
  auth::Request read{Interaction::read, "Observation", "1", ""};

  auto d = policy->decide(who({}, {"patient/*.rs"}, "5"), read);
  CHECK_FALSE(d.allowed);
  CHECK(d.missing_permission == "a role granting 'smart' (such as 'FHIR SMART User') to use SMART scopes");
  d = policy->decide(who({"FHIR SMART User"}, {"patient/*.rs"}, "5"), read);
  CHECK(d.allowed);
  CHECK(d.compartment_patient == "5");
  d = policy->decide(who({"FHIR Data Reader"}, {"patient/*.rs"}, "5"), read);
  CHECK(d.allowed);
  CHECK(d.compartment_patient == "5");
  // The SMART role alone grants no data.
  CHECK_FALSE(policy->decide(who({"FHIR SMART User"}, {}), read).allowed);
}

TEST_CASE("role_permissions config adds, replaces and disables roles", "[policy]") {
  auto cfg = json::parse(R"({"roles_claim": "roles", "role_permissions": {
      "Nurse": ["read", "write"], "FHIR Data Reader": [], "Ops": ["*"], "Auditor": ["read", "validate"]}})");
  REQUIRE(cfg.ok());
  auto policy = auth::Policy::from_config(*cfg);
  REQUIRE(policy.ok());
  auth::Request create{Interaction::create, "Observation", "", ""};
  auth::Request del{Interaction::del, "Observation", "1", ""};
  auth::Request read{Interaction::read, "Observation", "1", ""};

  CHECK(policy->decide(who({"Nurse"}, {}), create).allowed);
  auto d = policy->decide(who({"Nurse"}, {}), del);
  CHECK_FALSE(d.allowed);
  CHECK(d.missing_permission == "role permission 'delete'");
  CHECK_FALSE(policy->decide(who({"FHIR Data Reader"}, {}), read).allowed);  // disabled
  CHECK(policy->decide(who({"FHIR Data Writer"}, {}), read).allowed);        // defaults kept
  CHECK(policy->decide(who({"Ops"}, {}), auth::Request{Interaction::admin, "", "", "$reindex"}).allowed);
  CHECK(policy->decide(who({"Auditor"}, {}), auth::Request{Interaction::validate, "Observation", "", ""}).allowed);
  CHECK(policy->role_permissions({"Nurse", "Auditor"}) == (auth::kPermRead | auth::kPermWrite | auth::kPermValidate));

  CHECK(auth::Policy::from_config(json::Value()).ok());  // no section: defaults
}

TEST_CASE("bad role_permissions config is refused with the key named", "[policy]") {
  auto bad = [](const char* text) {
    auto v = json::parse(text);
    REQUIRE(v.ok());
    auto p = auth::Policy::from_config(*v);
    REQUIRE_FALSE(p.ok());
    return p.status().message;
  };
  CHECK(bad(R"({"role_permissions": {"Nurse": ["read", "fly"]}})") ==
        "config: auth.role_permissions[\"Nurse\"]: unknown permission 'fly' (expected read, write, delete, export, import, "
        "validate, admin, smart or *)");
  CHECK(bad(R"({"role_permissions": {"Nurse": "read"}})").find("must be an array") != std::string::npos);
  CHECK(bad(R"({"role_permissions": ["read"]})").find("must be an object") != std::string::npos);
  CHECK(bad(R"({"role_permissions": {"Nurse": [1]}})").find("(not a string)") != std::string::npos);
  CHECK(bad(R"({"scopes_require_role": "yes"})") == "config: auth.scopes_require_role must be true or false");
}

TEST_CASE("interaction and permission names round-trip", "[policy]") {
  for (const Col& c : columns()) {
    auth::Interaction back;
    REQUIRE(auth::parse_interaction(auth::interaction_name(c.i), &back));
    CHECK(back == c.i);
  }
  auth::Interaction x;
  CHECK_FALSE(auth::parse_interaction("destroy", &x));
  unsigned p = 0;
  CHECK(auth::parse_permission("*", &p));
  CHECK(p == auth::kPermAll);
  CHECK(auth::permission_names(auth::kPermRead | auth::kPermExport) == "read export");
  CHECK(auth::permission_names(0) == "none");
}

TEST_CASE("patient context: claim, fhirUser reference or URL", "[policy]") {
  CHECK(auth::fhir_user_patient("Patient/abc") == "abc");
  CHECK(auth::fhir_user_patient("https://ehr.example/fhir/Patient/abc-1.2") == "abc-1.2");
  CHECK(auth::fhir_user_patient("https://ehr.example/fhir/Patient/abc/_history/3") == "abc");
  CHECK(auth::fhir_user_patient("Practitioner/abc") == "");
  CHECK(auth::fhir_user_patient("https://ehr.example/fhir/RelatedPerson/abc") == "");
  CHECK(auth::fhir_user_patient("Patient/") == "");
  CHECK(auth::fhir_user_patient("Patient/a b") == "");
  CHECK(auth::fhir_user_patient("abc") == "");
  // Strict: anything but [base/]Type/id[/_history/v] does not parse (issue 14, case 8).
  for (const char* bad : {"Patient/A/", "Patient/A/_history", "Patient/A?x=1", "Patient/A#f", "x/y/Patient/A",
                          "Patient//A", "/Patient/A", "Patient/..", ""})
    CHECK_FALSE(auth::parse_fhir_user(bad, nullptr, nullptr));
  std::string t, i;
  CHECK(auth::parse_fhir_user("https://ehr.example/fhir/Practitioner/p-1/_history/2", &t, &i));
  CHECK((t == "Practitioner" && i == "p-1"));

  auth::Principal p;
  p.patient = "123";
  p.fhir_user = "Patient/456";
  CHECK(auth::patient_context(p) == "123");
  p.patient = "Patient/789";
  CHECK(auth::patient_context(p) == "789");
  p.patient.clear();
  CHECK(auth::patient_context(p) == "456");
}

TEST_CASE("fail closed: malformed scopes, unreadable scope claims and fhirUser refuse the token", "[policy]") {
  auth::Policy policy;
  auth::Request read{Interaction::search_type, "Observation", "", ""};
  // Issue 14 case 7: each of these used to be dropped, leaving the Reader role to decide alone.
  for (const char* bad : {"patient/*.rs?", "patient/Observation.sr", "patient/*.rs?category=", "patient/*.READ",
                          "patient/*.rs\tpatient/Observation.rs"}) {
    auto d = policy.decide(who({"FHIR Data Reader"}, {"openid", bad}, "A"), read);
    INFO(bad);
    CHECK_FALSE(d.allowed);
    CHECK(d.reason.find("malformed SMART scope") != std::string::npos);
  }
  auth::Principal p = who({"FHIR Data Reader"}, {});
  p.claim_problem = "the 'scp' claim is neither a string nor an array of strings";
  CHECK_FALSE(policy.decide(p, read).allowed);
  // Issue 14 case 8: a user/ scope with a Patient fhirUser that does not parse.
  for (const char* fu : {"Patient/A/", "Patient/A/_history", "Patient/A?x=1"}) {
    auth::Principal u = who({}, {"user/*.rs"});
    u.fhir_user = fu;
    auto d = policy.decide(u, read);
    INFO(fu);
    CHECK_FALSE(d.allowed);
  }
  auth::Principal u = who({}, {"user/*.rs"});
  u.fhir_user = "Patient/A";
  auto d = policy.decide(u, read);
  CHECK(d.allowed);
  CHECK(d.compartment_patient == "A");
}

TEST_CASE("caller_names: oid before sub, never the token", "[policy][audit]") {
  auth::Principal p = who({"FHIR Data Reader"}, {});
  p.object_id = "oid-1";
  p.client_id = "app-1";
  p.tenant_id = "t1";
  auth::CallerNames e = auth::caller_names(p);
  CHECK(e.subject == "oid-1");
  CHECK(e.client_id == "app-1");
  CHECK(e.tenant == "t1");
  CHECK(e.issuer == "https://login.microsoftonline.com/t1/v2.0");
  p.object_id.clear();
  CHECK(auth::caller_names(p).subject == "sub-1");
}
