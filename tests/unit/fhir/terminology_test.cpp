// Tests for fhir/terminology: the bundled table loads lazily and resolves by URL, code systems
// carry their hierarchy, expansion of compose (concept lists, filters, imports, excludes), the
// budgets (size, import depth and cycles, regex length), validate-code, lookup, subsumes,
// translate and the expansion cache.  Expectations are small facts of the R4 spec stated here
// (e.g. administrative-gender has male, female, other, unknown); the e2e test computes whole
// expansions independently from the source JSON (tests/e2e/test_terminology.py).
#include <catch2/catch.hpp>

#include <map>

#include "fhir/terminology.h"

using namespace ef;
using namespace ef::fhir::term;

namespace {

json::Value J(const std::string& s) {
  auto v = json::parse(s);
  REQUIRE(v.ok());
  return *v;
}

// Stored content over the bundled one, as the service layer does.
struct MapSource : Source {
  std::map<std::string, json::Value> cs, vs;
  std::shared_ptr<const CodeSystem> code_system(const std::string& url, const std::string& version) const override {
    auto it = cs.find(url);
    if (it == cs.end()) return bundled().code_system(url, version);
    auto r = parse_code_system(it->second, true);
    return r ? *r : nullptr;
  }
  std::shared_ptr<const json::Value> value_set(const std::string& url, const std::string& version) const override {
    auto it = vs.find(url);
    if (it == vs.end()) return bundled().value_set(url, version);
    return std::make_shared<const json::Value>(it->second);
  }
};

std::vector<std::string> codes(const Expansion& e) {
  std::vector<std::string> out;
  for (const auto& i : e.items) out.push_back(i.code);
  std::sort(out.begin(), out.end());
  return out;
}

const char* kTree = R"({"resourceType":"CodeSystem","url":"http://example.org/cs/tree","version":"1","content":"complete",
 "hierarchyMeaning":"is-a","concept":[
  {"code":"A","display":"Alpha","concept":[{"code":"A1","display":"Alpha one","concept":[{"code":"A1x","display":"Deep"}]},
                                           {"code":"A2","display":"Alpha two","property":[{"code":"status","valueCode":"retired"}]}]},
  {"code":"B","display":"Beta","designation":[{"language":"de","value":"Beta auf Deutsch"}]},
  {"code":"C","display":"Gamma","property":[{"code":"parent","valueCode":"B"},{"code":"kind","valueString":"x"}]}]})";

}  // namespace

TEST_CASE("terminology: bundled content resolves by canonical URL and version", "[fhir][term]") {
  CHECK(bundled_count("CodeSystem") > 600);
  CHECK(bundled_count("ValueSet") > 800);
  auto vs = bundled().value_set("http://hl7.org/fhir/ValueSet/administrative-gender", "");
  REQUIRE(vs);
  CHECK(bundled().value_set("http://hl7.org/fhir/ValueSet/administrative-gender", "4.0.1"));
  CHECK_FALSE(bundled().value_set("http://hl7.org/fhir/ValueSet/administrative-gender", "9.9"));
  CHECK_FALSE(bundled().value_set("http://example.org/none", ""));
  auto e = expand(bundled(), *vs, false, Limits{});
  REQUIRE(e.ok());
  CHECK(codes(**e) == std::vector<std::string>{"female", "male", "other", "unknown"});
  CHECK((*e)->find("http://hl7.org/fhir/administrative-gender", "male")->display == "Male");
}

TEST_CASE("terminology: v3 hierarchy and is-a filter", "[fhir][term]") {
  auto cs = bundled().code_system("http://terminology.hl7.org/CodeSystem/v3-ActMood", "");
  REQUIRE(cs);
  int intent = cs->index("INT"), rqo = cs->index("RQO");
  REQUIRE(intent >= 0);
  REQUIRE(rqo >= 0);
  CHECK(cs->subsumes(uint32_t(intent), uint32_t(rqo)));
  CHECK_FALSE(cs->subsumes(uint32_t(rqo), uint32_t(intent)));
  auto vs = bundled().value_set("http://terminology.hl7.org/ValueSet/v3-ActMoodIntent", "");
  REQUIRE(vs);
  auto e = expand(bundled(), *vs, false, Limits{});
  REQUIRE(e.ok());
  CHECK((*e)->find("http://terminology.hl7.org/CodeSystem/v3-ActMood", "INT"));
  CHECK((*e)->find("http://terminology.hl7.org/CodeSystem/v3-ActMood", "RQO"));
  CHECK_FALSE((*e)->find("http://terminology.hl7.org/CodeSystem/v3-ActMood", "EVN"));
}

TEST_CASE("terminology: compose filters, excludes, imports over a stored code system", "[fhir][term]") {
  MapSource s;
  s.cs["http://example.org/cs/tree"] = J(kTree);
  auto run = [&](const std::string& compose) {
    json::Value vs = J(R"({"resourceType":"ValueSet","url":"http://example.org/vs/t","compose":)" + compose + "}");
    return expand(s, vs, false, Limits{});
  };
  auto inc = [](const std::string& filter) {
    return R"({"include":[{"system":"http://example.org/cs/tree","filter":[)" + filter + "]}]}";
  };
  auto e = run(inc(R"({"property":"concept","op":"is-a","value":"A"})"));
  REQUIRE(e.ok());
  CHECK(codes(**e) == std::vector<std::string>{"A", "A1", "A1x", "A2"});
  e = run(inc(R"({"property":"concept","op":"descendent-of","value":"A"})"));
  CHECK(codes(**e) == std::vector<std::string>{"A1", "A1x", "A2"});
  e = run(inc(R"({"property":"concept","op":"is-not-a","value":"A"})"));
  CHECK(codes(**e) == std::vector<std::string>{"B", "C"});
  e = run(inc(R"({"property":"concept","op":"is-a","value":"B"})"));  // parent property links C under B
  CHECK(codes(**e) == std::vector<std::string>{"B", "C"});
  e = run(inc(R"({"property":"kind","op":"=","value":"x"})"));
  CHECK(codes(**e) == std::vector<std::string>{"C"});
  e = run(inc(R"({"property":"concept","op":"in","value":"A1,B"})"));
  CHECK(codes(**e) == std::vector<std::string>{"A1", "B"});
  e = run(inc(R"({"property":"code","op":"regex","value":"A[0-9].*"})"));
  CHECK(codes(**e) == std::vector<std::string>{"A1", "A1x", "A2"});
  e = run(inc(R"({"property":"kind","op":"exists","value":"true"})"));
  CHECK(codes(**e) == std::vector<std::string>{"C"});
  e = run(R"({"include":[{"system":"http://example.org/cs/tree"}],
              "exclude":[{"system":"http://example.org/cs/tree","concept":[{"code":"B"}]}]})");
  CHECK(codes(**e) == std::vector<std::string>{"A", "A1", "A1x", "A2", "C"});
  // activeOnly drops the retired A2
  json::Value all = J(R"({"resourceType":"ValueSet","url":"u","compose":{"include":[{"system":"http://example.org/cs/tree"}]}})");
  auto act = expand(s, all, true, Limits{});
  REQUIRE(act.ok());
  CHECK_FALSE((*act)->find("http://example.org/cs/tree", "A2"));
  // imports: a stored value set importing another, and the union with a bundled one
  s.vs["http://example.org/vs/a"] = J(R"({"resourceType":"ValueSet","url":"http://example.org/vs/a",
      "compose":{"include":[{"system":"http://example.org/cs/tree","concept":[{"code":"B"}]}]}})");
  e = run(R"({"include":[{"valueSet":["http://example.org/vs/a"]},
                         {"valueSet":["http://hl7.org/fhir/ValueSet/administrative-gender"]}]})");
  REQUIRE(e.ok());
  CHECK(codes(**e) == std::vector<std::string>{"B", "female", "male", "other", "unknown"});
  // unsupported filter, unknown code in a filter, bad regex
  e = run(inc(R"({"property":"concept","op":"frobnicate","value":"A"})"));
  REQUIRE_FALSE(e.ok());
  CHECK(e.status().issue_code == "not-supported");
  e = run(inc(R"({"property":"concept","op":"is-a","value":"ZZZ"})"));
  CHECK(e.status().code == Err::invalid);
  e = run(inc(R"({"property":"code","op":"regex","value":"(unclosed"})"));
  CHECK(e.status().code == Err::invalid);
  e = run(inc(R"({"property":"code","op":"regex","value":")" + std::string(300, 'a') + R"("})"));
  CHECK(e.status().code == Err::too_large);
  // patterns that can backtrack exponentially are refused before std::regex sees them
  for (const char* bad : {"(a+)+b", "(A|A1)*x", "((A)*)*", "(A)\\\\1"}) {
    e = run(inc(R"({"property":"code","op":"regex","value":")" + std::string(bad) + R"("})"));
    CHECK(e.status().issue_code == "not-supported");
  }
  e = run(inc(R"({"property":"code","op":"regex","value":"(A1)+x?|[(+]*B"})"));
  REQUIRE(e.ok());
  CHECK(codes(**e) == std::vector<std::string>{"A1", "A1x", "B"});
}

TEST_CASE("terminology: systems not held, cycles, depth and size budgets are refused", "[fhir][term]") {
  MapSource s;
  json::Value snomed = J(R"({"resourceType":"ValueSet","url":"x","compose":{"include":[{"system":"http://snomed.info/sct",
      "filter":[{"property":"concept","op":"is-a","value":"404684003"}]}]}})");
  auto e = expand(s, snomed, false, Limits{});
  REQUIRE_FALSE(e.ok());
  CHECK(e.status().issue_code == "not-supported");
  CHECK(e.status().message.find("not available on this server") != std::string::npos);
  // an explicit list of a system not held works
  json::Value list = J(R"({"resourceType":"ValueSet","url":"x","compose":{"include":[{"system":"http://snomed.info/sct",
      "concept":[{"code":"1","display":"one"}]}]}})");
  e = expand(s, list, false, Limits{});
  REQUIRE(e.ok());
  CHECK((*e)->find("http://snomed.info/sct", "1")->display == "one");
  s.vs["http://e/a"] = J(R"({"url":"http://e/a","compose":{"include":[{"valueSet":["http://e/b"]}]}})");
  s.vs["http://e/b"] = J(R"({"url":"http://e/b","compose":{"include":[{"valueSet":["http://e/a"]}]}})");
  e = expand(s, s.vs["http://e/a"], false, Limits{});
  REQUIRE_FALSE(e.ok());
  CHECK(e.status().message.find("imports itself") != std::string::npos);
  for (int i = 0; i < 12; ++i)
    s.vs["http://e/d" + std::to_string(i)] =
        J(R"({"url":"http://e/d)" + std::to_string(i) + R"(","compose":{"include":[{"valueSet":["http://e/d)" +
          std::to_string(i + 1) + R"("]}]}})");
  e = expand(s, s.vs["http://e/d0"], false, Limits{});
  CHECK(e.status().code == Err::too_large);
  Limits small;
  small.max_expansion = 3;
  auto vs = bundled().value_set("http://hl7.org/fhir/ValueSet/observation-status", "");
  REQUIRE(vs);
  e = expand(bundled(), *vs, false, small);
  CHECK(e.status().code == Err::too_large);
}

TEST_CASE("terminology: $expand paging and text filter, validate-code, lookup, subsumes", "[fhir][term]") {
  MapSource s;
  s.cs["http://example.org/cs/tree"] = J(kTree);
  json::Value vs = J(R"({"resourceType":"ValueSet","url":"http://example.org/vs/all","compose":{"include":[{"system":"http://example.org/cs/tree"}]}})");
  auto e = expand(s, vs, false, Limits{});
  REQUIRE(e.ok());
  ExpandParams p;
  p.filter = "alpha";
  p.offset = 1;
  p.count = 1;
  json::Value r = expansion_resource(vs, **e, p, "2026-01-01T00:00:00Z");
  CHECK(json::number_text(*json::get(*json::get(r, "expansion"), "total")) == "3");
  const json::Array* c = json::get_array(*json::get(r, "expansion"), "contains");
  REQUIRE(c);
  REQUIRE(c->size() == 1);
  CHECK(json::string_or((*c)[0], "code") == "A1");
  ExpandParams de;
  de.display_language = "de";
  r = expansion_resource(vs, **e, de, "t");
  std::string text = json::write(r);
  CHECK(text.find("Beta auf Deutsch") != std::string::npos);

  auto vc = validate_code(**e, "u", CodeRef{"http://example.org/cs/tree", "", "B", ""});
  CHECK(json::write(vc).find(R"("valueBoolean":true)") != std::string::npos);
  vc = validate_code(**e, "u", CodeRef{"http://example.org/cs/tree", "", "Q", ""});
  CHECK(json::write(vc).find(R"("valueBoolean":false)") != std::string::npos);
  vc = validate_code(**e, "u", CodeRef{"http://example.org/cs/tree", "", "B", "Wrong"});
  CHECK(json::write(vc).find(R"("valueBoolean":false)") != std::string::npos);

  auto lk = lookup(s, CodeRef{"http://example.org/cs/tree", "", "A1", ""}, {});
  REQUIRE(lk.ok());
  std::string l = json::write(*lk);
  CHECK(l.find("Alpha one") != std::string::npos);
  CHECK(l.find(R"("valueCode":"A")") != std::string::npos);    // parent
  CHECK(l.find(R"("valueCode":"A1x")") != std::string::npos);  // child
  CHECK(lookup(s, CodeRef{"http://example.org/cs/tree", "", "nope", ""}, {}).status().code == Err::not_found);
  CHECK(lookup(s, CodeRef{"http://loinc.org", "", "1-8", ""}, {}).status().issue_code == "not-supported");

  auto outcome = [&](const std::string& a, const std::string& b) {
    auto x = subsumes(s, "http://example.org/cs/tree", "", a, b);
    REQUIRE(x.ok());
    return json::string_or((*json::get_array(*x, "parameter"))[0], "valueCode");
  };
  CHECK(outcome("A", "A1x") == "subsumes");
  CHECK(outcome("A1x", "A") == "subsumed-by");
  CHECK(outcome("A", "A") == "equivalent");
  CHECK(outcome("A", "B") == "not-subsumed");
  CHECK(outcome("B", "C") == "subsumes");
}

TEST_CASE("terminology: translate through a ConceptMap, forwards and in reverse", "[fhir][term]") {
  json::Value cm = J(R"({"resourceType":"ConceptMap","url":"http://e/cm","group":[{"source":"http://s","target":"http://t",
     "element":[{"code":"a","target":[{"code":"x","display":"Ex","equivalence":"equivalent"}]},
                {"code":"b","target":[{"equivalence":"unmatched"}]}]}]})");
  auto r = translate(cm, CodeRef{"http://s", "", "a", ""}, "", false);
  REQUIRE(r.ok());
  std::string t = json::write(*r);
  CHECK(t.find(R"("valueBoolean":true)") != std::string::npos);
  CHECK(t.find(R"("code":"x")") != std::string::npos);
  r = translate(cm, CodeRef{"http://s", "", "b", ""}, "", false);
  CHECK(json::write(*r).find(R"("valueBoolean":false)") != std::string::npos);
  r = translate(cm, CodeRef{"http://t", "", "x", ""}, "", true);
  CHECK(json::write(*r).find(R"("code":"a")") != std::string::npos);
  r = translate(cm, CodeRef{"http://other", "", "a", ""}, "", false);
  CHECK(json::write(*r).find(R"("valueBoolean":false)") != std::string::npos);
}

TEST_CASE("terminology: translate's match parts (equivalence, concept Coding, source)", "[fhir][term]") {
  json::Value cm = J(R"({"resourceType":"ConceptMap","url":"http://e/cm","group":[{"source":"http://s","target":"http://t",
     "element":[{"code":"a","display":"Ay","target":[{"code":"x","display":"Ex","equivalence":"wider"}]},
                {"code":"b","target":[{"equivalence":"unmatched"}]}]},
     {"element":[{"code":"c","target":[{"code":"z"}]}]}]})");
  auto match_of = [](const json::Value& p) {
    for (const auto& x : *json::get_array(p, "parameter"))
      if (json::string_or(x, "name") == "match") return json::write(x);
    return std::string();
  };
  // Forwards: the target's code and display, in the group's target system.
  auto r = translate(cm, CodeRef{"http://s", "", "a", ""}, "", false);
  REQUIRE(r.ok());
  CHECK(match_of(*r) == R"({"name":"match","part":[{"name":"equivalence","valueCode":"wider"},)"
                        R"({"name":"concept","valueCoding":{"code":"x","display":"Ex","system":"http://t"}},)"
                        R"({"name":"source","valueUri":"http://e/cm"}]})");
  // A target without a code: no concept.
  r = translate(cm, CodeRef{"http://s", "", "b", ""}, "", false);
  REQUIRE(r.ok());
  CHECK(match_of(*r) == R"({"name":"match","part":[{"name":"equivalence","valueCode":"unmatched"},)"
                        R"({"name":"source","valueUri":"http://e/cm"}]})");
  // In reverse: the element's code and display, in the group's source system.
  r = translate(cm, CodeRef{"http://t", "", "x", ""}, "", true);
  REQUIRE(r.ok());
  CHECK(match_of(*r) == R"({"name":"match","part":[{"name":"equivalence","valueCode":"wider"},)"
                        R"({"name":"concept","valueCoding":{"code":"a","display":"Ay","system":"http://s"}},)"
                        R"({"name":"source","valueUri":"http://e/cm"}]})");
  // No system on the group: none on the Coding; equivalence defaults to equivalent.
  r = translate(cm, CodeRef{"", "", "c", ""}, "", false);
  REQUIRE(r.ok());
  CHECK(match_of(*r) == R"({"name":"match","part":[{"name":"equivalence","valueCode":"equivalent"},)"
                        R"({"name":"concept","valueCoding":{"code":"z"}},{"name":"source","valueUri":"http://e/cm"}]})");
}

TEST_CASE("terminology: the expansion cache is bounded by entries and bytes", "[fhir][term]") {
  ExpansionCache c(2, 1000);
  auto mk = [](size_t bytes) {
    auto e = std::make_shared<Expansion>();
    e->bytes = bytes;
    return std::shared_ptr<const Expansion>(e);
  };
  c.put("a", mk(100));
  c.put("b", mk(100));
  CHECK(c.get("a"));
  c.put("c", mk(100));  // evicts b (a was used)
  CHECK(c.get("a"));
  CHECK_FALSE(c.get("b"));
  CHECK(c.size() == 2);
  c.put("big", mk(5000));  // larger than the budget: not kept
  CHECK_FALSE(c.get("big"));
  c.put("d", mk(900));
  CHECK(c.bytes() <= 1000);
  c.clear();
  CHECK(c.size() == 0);
}

TEST_CASE("bundled rows: the least recently used parsed rows are let go past the budget, and parse again the same",
          "[term]") {
  const std::string act = "http://terminology.hl7.org/CodeSystem/v3-ActCode";  // ~345 KB of text
  auto first = bundled().code_system(act, "");
  REQUIRE(first);
  CHECK(bundled().code_system(act, "").get() == first.get());  // kept while within the budget
  // three large rows used after it: ~720 KB more, so the kept text passes 1 MiB
  REQUIRE(bundled().value_set("http://hl7.org/fhir/ValueSet/c80-doc-typecodes", ""));
  REQUIRE(bundled().value_set("http://hl7.org/fhir/ValueSet/animal-breeds", ""));
  REQUIRE(bundled().code_system("http://hl7.org/fhir/resource-types", ""));
  auto again = bundled().code_system(act, "");
  REQUIRE(again);
  CHECK(again.get() != first.get());  // let go (the caller's copy stays valid), parsed anew
  CHECK(again->concepts.size() == first->concepts.size());
  CHECK(again->by_code.size() == first->by_code.size());
  REQUIRE(first->concepts.size() > 1000);
}

TEST_CASE("bundled code sets: the validator's binding sets come from the engine, built once per value set",
          "[fhir][term][validate]") {
  const CodeSet* g = bundled_code_set("http://hl7.org/fhir/ValueSet/administrative-gender");
  REQUIRE(g);
  CHECK(g->enumerated);
  CHECK(g->has("http://hl7.org/fhir/administrative-gender", "female"));
  CHECK(g->has_code("unknown"));
  CHECK_FALSE(g->has_code("f"));
  CHECK_FALSE(g->has("http://example.org/other", "female"));
  CHECK(g->has_system("http://hl7.org/fhir/administrative-gender"));
  size_t built = bundled_code_sets_built();
  CHECK(bundled_code_set("http://hl7.org/fhir/ValueSet/administrative-gender") == g);  // kept, not rebuilt
  CHECK(bundled_code_sets_built() == built);
  // A whole code system outside the HL7 URLs (tools/gen_terminology.py keeps it for this).
  const CodeSet* sig = bundled_code_set("http://hl7.org/fhir/ValueSet/signature-type");
  CHECK(sig->enumerated);
  CHECK(sig->has("urn:iso-astm:E1762-95:2013", "1.2.840.10065.1.12.1.1"));
  // A filter over a bundled v3 code system: is-a _ActConsentDirective (the old table left it open).
  const CodeSet* cd = bundled_code_set("http://terminology.hl7.org/ValueSet/v3-ActConsentDirective");
  CHECK(cd->enumerated);
  CHECK(cd->has("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN"));
  CHECK_FALSE(cd->has("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"));
  // Not enumerable: a code system this server does not hold (mime types), an unknown URL.
  CHECK_FALSE(bundled_code_set("http://hl7.org/fhir/ValueSet/mimetypes")->enumerated);
  CHECK_FALSE(bundled_code_set("http://example.org/no-such-value-set")->enumerated);
}
