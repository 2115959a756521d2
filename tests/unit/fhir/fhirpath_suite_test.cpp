// HL7's FHIRPath test suite (fhir-test-cases r4/fhirpath/tests-fhir-r4.xml, converted to JSON with
// its input resources by tools/gen_fhirpath_tests.py into tests/data/fhirpath/) run through the
// general engine (fhir/fhirpath_eval.h).  Prints the pass share and the failing cases by group;
// requires at least 90 % (issue 18's target).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "fhir/fhirpath_eval.h"
#include "util/json.h"

using namespace ef;
using namespace ef::fhir;

namespace {

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

json::Value load(const std::string& p) {
  json::ParseOptions o;
  o.preserve_numbers = true;
  auto r = json::parse(slurp(p), o);
  REQUIRE(r.ok());
  return *r;
}

std::string strip_at(std::string s) {
  if (!s.empty() && s[0] == '@') s.erase(0, 1);
  if (!s.empty() && s[0] == 'T') s.erase(0, 1);
  return s;
}

// Expected output vs an actual item; *why says what differs.
bool same_output(const json::Value& exp, const fp::Item& got, std::string* why) {
  std::string type = json::string_or(exp, "type"), value = json::string_or(exp, "value");
  std::string gt = fp::type_name(got), gv = fp::to_text(got);
  bool ok;
  if (type.empty()) {  // untyped expectations (boundaries, precision): the text, numbers by value
    char* end = nullptr;
    double x = std::strtod(value.c_str(), &end);
    bool numeric = !value.empty() && end && *end == 0;
    ok = numeric ? std::fabs(x - std::strtod(gv.c_str(), nullptr)) < 1e-9 && gv.find_first_not_of("-+.0123456789") == std::string::npos
                 : strip_at(gv) == strip_at(value) || gv == value;
  } else if (type == "decimal" || type == "integer") {
    ok = (gt == type || (type == "decimal" && gt == "integer")) && std::fabs(std::strtod(gv.c_str(), nullptr) - std::strtod(value.c_str(), nullptr)) < 1e-9;
    if (type == "integer") ok = ok && gt == "integer";
  } else if (type == "date" || type == "dateTime" || type == "time") {
    ok = gt == type && strip_at(gv) == strip_at(value);
  } else if (type == "Quantity") {
    ok = gt == "Quantity" && gv == value;
  } else {
    ok = gt == type && gv == value;
  }
  if (!ok) *why = "expected " + type + " " + value + ", got " + gt + " " + gv;
  return ok;
}

// Runs one case; returns "" when it passes, else why not.
std::string run_case(const json::Value& t, std::map<std::string, json::Value>& inputs) {
  std::string expr = json::string_or(t, "expression"), invalid = json::string_or(t, "invalid");
  std::string in = json::string_or(t, "inputfile");
  auto e = fp::Expression::compile(expr);
  if (!e.ok()) return invalid.empty() ? "does not compile: " + e.status().message : "";
  if (!in.empty() && !inputs.count(in)) inputs[in] = load("tests/data/fhirpath/" + in);
  static const json::Value none;
  const json::Value& res = in.empty() ? none : inputs[in];
  fp::Env env;
  env.resource = &res;
  env.root_resource = &res;
  fp::Coll focus;
  if (!in.empty()) focus.push_back(fp::node(res, "Resource"));
  auto r = fp::evaluate(*e, focus, env);
  if (!r.ok()) return invalid.empty() ? "evaluation error: " + r.status().message : "";
  if (!invalid.empty()) return "expected a " + invalid + " error, got " + std::to_string(r->size()) + " items";
  fp::Coll got = *r;
  if (json::is_bool(*json::get(t, "predicate")) && json::get(t, "predicate")->get<bool>()) got = {fp::Item::boolean(!got.empty())};
  const json::Array& outs = *json::get_array(t, "outputs");
  if (outs.size() != got.size()) {
    std::string g;
    for (const auto& x : got) g += " " + fp::type_name(x) + ":" + fp::to_text(x);
    return "expected " + std::to_string(outs.size()) + " items, got " + std::to_string(got.size()) + g;
  }
  for (size_t i = 0; i < outs.size(); i++) {
    std::string why;
    if (!same_output(outs[i], got[i], &why)) return why;
  }
  return "";
}

}  // namespace

TEST_CASE("HL7 FHIRPath suite (r4) through the general engine", "[fhirpath][suite]") {
  json::Value tests = load("tests/data/fhirpath/tests-fhir-r4.json");
  REQUIRE(json::is_array(tests));
  std::map<std::string, json::Value> inputs;
  std::map<std::string, std::pair<int, int>> by_group;  // group -> failed, total
  size_t pass = 0, total = 0;
  std::string report;
  for (const json::Value& t : tests.get<json::Array>()) {
    std::string group = json::string_or(t, "group");
    std::string why = run_case(t, inputs);
    total++;
    by_group[group].second++;
    if (why.empty()) {
      pass++;
    } else {
      by_group[group].first++;
      report += "  [" + group + "] " + json::string_or(t, "name") + ": " + json::string_or(t, "expression") + "\n      " + why + "\n";
    }
  }
  double share = 100.0 * static_cast<double>(pass) / static_cast<double>(total);
  std::printf("FHIRPath suite: %zu of %zu pass (%.1f %%)\n", pass, total, share);
  for (const auto& g : by_group)
    if (g.second.first) std::printf("  group %s: %d of %d fail\n", g.first.c_str(), g.second.first, g.second.second);
  if (std::getenv("FHIRPATH_SUITE_VERBOSE")) std::printf("%s", report.c_str());
  CHECK(total >= 900);
  REQUIRE(share >= 90.0);
}
