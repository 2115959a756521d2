// Tests for fhir/search_params: the registry built from the embedded tables, checked against
// the official R4 definitions read independently from tests/data/fhir-r4/.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "fhir/embedded_data.h"
#include "fhir/search_params.h"

using namespace ef;
using namespace ef::fhir;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

json::Value load_json(const std::string& path) {
  auto r = json::parse(slurp(path));
  REQUIRE(r.ok());
  return *r;
}

// The number of expressions the compiler accepts, as written in data/README.md.
const size_t kReportedCompiled = 1372;

}  // namespace

TEST_CASE("search params: the embedded tables are the committed data files byte for byte", "[fhir]") {
  CHECK(embedded_search_parameters() == slurp("data/search-parameters.tsv"));
  CHECK(embedded_compartment_patient() == slurp("data/compartment-patient.tsv"));
  CHECK(slurp("data/README.md").find(std::to_string(kReportedCompiled) + " of ") != std::string::npos);
}

TEST_CASE("search params: every R4 SearchParameter is loaded and the expressions compile", "[fhir]") {
  REQUIRE(registry_status().ok());
  json::Value bundle = load_json("tests/data/fhir-r4/search-parameters.json");
  const json::Array* entries = json::get_array(bundle, "entry");
  REQUIRE(entries);
  size_t defs = 0, with_expr = 0, rows = 0;
  for (const json::Value& e : *entries) {
    const json::Value* sp = json::get(e, "resource");
    REQUIRE(sp);
    ++defs;
    if (json::get_string(*sp, "expression")) ++with_expr;
    const json::Array* bases = json::get_array(*sp, "base");
    REQUIRE(bases);
    const std::string code = json::string_or(*sp, "code");
    for (const json::Value& b : *bases) {
      ++rows;
      const std::string& base = *json::as_string(b);
      // each (base, code) is in the registry with the definition's type and url
      std::string type_for_lookup = (base == "Resource" || base == "DomainResource") ? "Patient" : base;
      const SearchParam* p = registry().find(type_for_lookup, code);
      INFO(base << "." << code);
      REQUIRE(p);
      CHECK(p->base == base);
      CHECK(param_type_name(p->type) == json::string_or(*sp, "type"));
      CHECK(p->url == json::string_or(*sp, "url"));
      if (const json::Array* comps = json::get_array(*sp, "component")) CHECK(p->components.size() == comps->size());
    }
  }
  CHECK(registry().size() == rows);
  SearchCoverage cov = registry().coverage();
  CHECK(cov.definitions == defs);
  CHECK(cov.definitions == 1375);
  CHECK(cov.with_expression == with_expr);
  CHECK(cov.compiled >= kReportedCompiled);
  CHECK(cov.compiled <= cov.with_expression);
}

TEST_CASE("search params: unsupported parameters are listed with a reason", "[fhir]") {
  std::set<std::string> got;
  for (const SearchParam* p : registry().unsupported()) {
    INFO(p->base << "." << p->code);
    CHECK_FALSE(p->supported);
    CHECK_FALSE(p->reason.empty());
    got.insert(p->base + "." + p->code + ": " + p->reason);
  }
  // exactly the parameters without an expression and the one `special` parameter
  std::set<std::string> want = {
      "DomainResource._text: full-text search is not supported",
      "Resource._content: full-text search is not supported",
      "Resource._query: named queries (_query) are not supported",
      "Location.near: special search parameter (near) is not supported",
  };
  CHECK(got == want);
  for (const std::string& s : got) WARN("not supported: " << s);
}

TEST_CASE("search params: resource types and the Patient compartment match the definitions", "[fhir]") {
  json::Value cd = load_json("tests/data/fhir-r4/CompartmentDefinition-patient.json");
  const json::Array* res = json::get_array(cd, "resource");
  REQUIRE(res);
  std::vector<std::string> types;
  for (const json::Value& r : *res) {
    std::string code = json::string_or(r, "code");
    types.push_back(code);
    std::vector<std::string> params;
    if (const json::Array* ps = json::get_array(r, "param"))
      for (const json::Value& p : *ps) params.push_back(*json::as_string(p));
    INFO(code);
    CHECK(registry().compartment_params(code) == params);
    for (const std::string& p : params) CHECK(registry().find(code, p) != nullptr);  // each is a real param
  }
  std::sort(types.begin(), types.end());
  CHECK(registry().all_resource_types() == types);
  CHECK(registry().all_resource_types().size() == 145);
  CHECK(std::is_sorted(registry().all_resource_types().begin(), registry().all_resource_types().end()));
  CHECK(registry().is_resource_type("Observation"));
  CHECK(registry().is_resource_type("Binary"));
  CHECK_FALSE(registry().is_resource_type("observation"));
  CHECK_FALSE(registry().is_resource_type("Resource"));
  CHECK(registry().compartment_params("Patient") == std::vector<std::string>{"link"});
  CHECK(registry().compartment_params("Organization").empty());
  CHECK(registry().compartment_params("NoSuchType").empty());
}

TEST_CASE("search params: lookups, shared expressions split by base, common parameters", "[fhir]") {
  const SearchParamRegistry& r = registry();
  const SearchParam* bd = r.find("Patient", "birthdate");
  REQUIRE(bd);
  CHECK(bd->type == ParamType::date);
  CHECK(bd->expression == "Patient.birthDate");
  CHECK(bd->supported);
  CHECK(bd->path.valid());
  // clinical-code is one definition over 14 bases; each base keeps its own member
  const SearchParam* oc = r.find("Observation", "code");
  REQUIRE(oc);
  CHECK(oc->expression == "Observation.code");
  const SearchParam* mc = r.find("MedicationRequest", "code");
  REQUIRE(mc);
  CHECK(mc->expression == "(MedicationRequest.medication as CodeableConcept)");
  CHECK(oc->url == mc->url);
  // references
  const SearchParam* pat = r.find("Observation", "patient");
  REQUIRE(pat);
  CHECK(pat->type == ParamType::reference);
  CHECK(pat->expression == "Observation.subject.where(resolve() is Patient)");
  CHECK(pat->may_target("Patient"));
  CHECK_FALSE(pat->may_target("Device"));
  const SearchParam* focus = r.find("Observation", "focus");
  REQUIRE(focus);
  CHECK(focus->any_target);
  CHECK(focus->may_target("Basic"));
  // composite components with their own types
  const SearchParam* cvq = r.find("Observation", "code-value-quantity");
  REQUIRE(cvq);
  CHECK(cvq->type == ParamType::composite);
  REQUIRE(cvq->components.size() == 2);
  CHECK(cvq->components[0].code == "code");
  CHECK(cvq->components[0].type == ParamType::token);
  CHECK(cvq->components[1].code == "value-quantity");
  CHECK(cvq->components[1].type == ParamType::quantity);
  CHECK(cvq->components[1].expression == "value.as(Quantity)");
  CHECK(cvq->components[1].path.valid());
  // common parameters apply to every type, including types without their own parameters
  for (const char* t : {"Patient", "Binary", "OperationOutcome"}) {
    for (const char* c : {"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source", "_text", "_content"}) {
      INFO(t << " " << c);
      const SearchParam* p = r.find(t, c);
      REQUIRE(p);
      CHECK(p->common());
    }
  }
  CHECK(r.find("Patient", "_text")->supported == false);
  CHECK(r.find("Patient", "_lastUpdated")->type == ParamType::date);
  CHECK(r.find("Patient", "no-such-param") == nullptr);
  CHECK(r.find("NoSuchType", "_id") == nullptr);
  CHECK(r.params_for("NoSuchType").empty());
  const auto& pp = r.params_for("Patient");
  CHECK(std::is_sorted(pp.begin(), pp.end(), [](const SearchParam* a, const SearchParam* b) { return a->code < b->code; }));
  // InsurancePlan-name's expression ("name | alias") names no base: kept whole
  REQUIRE(r.find("InsurancePlan", "name"));
  CHECK(r.find("InsurancePlan", "name")->expression == "name | alias");
}

TEST_CASE("search params: malformed tables are rejected", "[fhir]") {
  const std::string comp = "Patient\tlink\nObservation\tsubject\n";
  auto ok = SearchParamRegistry::load("Patient\tname\tstring\tPatient.name\t\t\thttp://x\n", comp);
  REQUIRE(ok.ok());
  CHECK((*ok)->find("Patient", "name") != nullptr);
  CHECK_FALSE(SearchParamRegistry::load("Patient\tname\tstring\n", comp).ok());                                // columns
  CHECK_FALSE(SearchParamRegistry::load("Patient\tname\tstrin\tPatient.name\t\t\tu\n", comp).ok());          // type
  CHECK_FALSE(SearchParamRegistry::load("Nope\tname\tstring\tNope.name\t\t\tu\n", comp).ok());               // base
  CHECK_FALSE(SearchParamRegistry::load("Patient\tx\tcomposite\tPatient\t\tbad\tu\n", comp).ok());           // component
  CHECK_FALSE(SearchParamRegistry::load("", "").ok());                                                        // no types
  auto bad_expr = SearchParamRegistry::load("Patient\tname\tstring\tPatient.name.substring(1)\t\t\tu\n", comp);
  REQUIRE(bad_expr.ok());  // loads, but the parameter is marked unsupported
  const SearchParam* p = (*bad_expr)->find("Patient", "name");
  REQUIRE(p);
  CHECK_FALSE(p->supported);
  CHECK(p->reason.find("substring") != std::string::npos);
  CHECK((*bad_expr)->coverage().compiled == 0);
}
