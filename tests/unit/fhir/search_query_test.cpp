// Tests for fhir/search_query: query-string decoding, each parameter type's value grammar
// (prefixes, precision ranges, modifiers), chains, _has, result parameters, and the errors
// and lenient/strict handling of unknown parameters.
#include <catch2/catch.hpp>

#include "fhir/indexer.h"
#include "fhir/search_query.h"
#include "util/time.h"

using namespace ef;
using namespace ef::fhir;

namespace {

Result<SearchQuery> parse(const std::string& type, const std::string& qs, bool strict = false) {
  auto p = parse_query_string(qs, false);
  REQUIRE(p.ok());
  SearchParseOptions o;
  o.strict = strict;
  o.base_url = "https://fhir.example/r4";
  o.now_ms = timefmt::parse_fhir_time("2026-01-01")->lo_ms;
  return parse_search(type, *p, o);
}

SearchQuery ok(const std::string& type, const std::string& qs) {
  auto q = parse(type, qs);
  INFO(qs << " -> " << q.status().message);
  REQUIRE(q.ok());
  return *q;
}

std::string error_of(const std::string& type, const std::string& qs, bool strict = false) {
  auto q = parse(type, qs, strict);
  REQUIRE_FALSE(q.ok());
  CHECK(q.status().code == Err::invalid);
  return q.status().message;
}

int64_t ms(const char* t) { return timefmt::parse_fhir_time(t)->lo_ms; }

}  // namespace

TEST_CASE("query strings decode percent escapes; '+' is literal except in form bodies", "[search]") {
  auto p = parse_query_string("a=1%2C2&b=x+y&&c&date=ge2020-01-01T00:00:00+01:00", false);
  REQUIRE(p.ok());
  REQUIRE(p->size() == 4);
  CHECK((*p)[0] == std::make_pair(std::string("a"), std::string("1,2")));
  CHECK((*p)[1].second == "x+y");
  CHECK((*p)[2] == std::make_pair(std::string("c"), std::string()));
  CHECK((*p)[3].second == "ge2020-01-01T00:00:00+01:00");
  auto f = parse_query_string("name=van+der%20Berg", true);
  REQUIRE(f.ok());
  CHECK((*f)[0].second == "van der Berg");
  CHECK_FALSE(parse_query_string("a=%zz", false).ok());
  CHECK_FALSE(parse_query_string("a=%2", false).ok());
}

TEST_CASE("string values are normalised like the index; :exact and :contains", "[search]") {
  SearchQuery q = ok("Patient", "family=Ord%C3%B3%C3%B1ez");
  REQUIRE(q.criteria.size() == 1);
  CHECK(q.criteria[0].type == ParamType::string);
  CHECK(q.criteria[0].values[0].text == "ordonez");
  q = ok("Patient", "family:exact=Ord%C3%B3%C3%B1ez");
  CHECK(q.criteria[0].modifier == Modifier::exact);
  CHECK(q.criteria[0].values[0].text == "Ordóñez");
  q = ok("Patient", "name:contains=ARD");
  CHECK(q.criteria[0].modifier == Modifier::contains);
  CHECK(q.criteria[0].values[0].text == "ard");
  CHECK(error_of("Patient", "name:below=x").find("modifier ':below'") != std::string::npos);
}

TEST_CASE("OR values split on unescaped commas; \\, is kept", "[search]") {
  SearchQuery q = ok("Patient", "family=a\\,b,c");
  REQUIRE(q.criteria[0].values.size() == 2);
  CHECK(q.criteria[0].values[0].text == "a,b");
  CHECK(q.criteria[0].values[1].text == "c");
  // AND: repeated parameters are separate criteria
  q = ok("Patient", "family=a&family=b");
  CHECK(q.criteria.size() == 2);
}

TEST_CASE("token forms and modifiers", "[search]") {
  SearchQuery q = ok("Observation", "code=http://loinc.org|8480-6,|abc,http://x|,plain");
  const auto& v = q.criteria[0].values;
  REQUIRE(v.size() == 4);
  CHECK((v[0].has_system && v[0].system == "http://loinc.org" && v[0].code == "8480-6"));
  CHECK((v[1].has_system && v[1].system.empty() && v[1].code == "abc"));
  CHECK((v[2].has_system && v[2].system == "http://x" && v[2].code.empty()));
  CHECK((!v[3].has_system && v[3].code == "plain"));
  q = ok("Observation", "code:not=1234");
  CHECK(q.criteria[0].modifier == Modifier::not_);
  q = ok("Observation", "code:text=Blood%20Pressure");
  CHECK(q.criteria[0].values[0].text == "blood pressure");
  q = ok("Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|12345");
  CHECK(q.criteria[0].values[0].type_code == "MR");
  CHECK(q.criteria[0].values[0].code == "12345");
  CHECK(error_of("Patient", "identifier:of-type=MR|12345").find(":of-type") != std::string::npos);
  // :in / :not-in keep the value set reference; :above / :below need system|code (issue 21)
  q = ok("Observation", "code:in=http://vs|1");
  CHECK(q.criteria[0].modifier == Modifier::in);
  CHECK(q.criteria[0].values[0].url == "http://vs|1");
  CHECK(ok("Observation", "code:not-in=ValueSet/x").criteria[0].modifier == Modifier::not_in);
  q = ok("Observation", "code:below=http://loinc.org|1-8");
  CHECK((q.criteria[0].modifier == Modifier::below && q.criteria[0].values[0].code == "1-8"));
  CHECK(error_of("Observation", "code:below=1-8").find("system|code") != std::string::npos);
  CHECK(error_of("Observation", "code:in=").find("code:in") != std::string::npos);
  CHECK(error_of("Patient", "name:in=http://vs").find("modifier ':in'") != std::string::npos);
  CHECK(error_of("Observation", "code=a|b|c").find("code") != std::string::npos);
  q = ok("Patient", "_id=abc,def");
  CHECK(q.criteria[0].kind == Criterion::Kind::id);
  CHECK(q.criteria[0].values.size() == 2);
  CHECK(error_of("Patient", "_id=a%20b").find("_id") != std::string::npos);
}

TEST_CASE(":missing takes true or false on every type", "[search]") {
  SearchQuery q = ok("Patient", "birthdate:missing=true&gender:missing=false");
  CHECK(q.criteria[0].modifier == Modifier::missing);
  CHECK(q.criteria[0].values[0].missing);
  CHECK_FALSE(q.criteria[1].values[0].missing);
  CHECK(error_of("Patient", "gender:missing=yes").find("true or false") != std::string::npos);
}

TEST_CASE("dates: prefixes and precision ranges", "[search]") {
  SearchQuery q = ok("Patient", "birthdate=1970");
  auto v = q.criteria[0].values[0];
  CHECK(v.prefix == Prefix::eq);
  CHECK(v.lo_ms == ms("1970-01-01"));
  CHECK(v.hi_ms == ms("1971-01-01"));
  q = ok("Patient", "birthdate=ge1970-03");
  v = q.criteria[0].values[0];
  CHECK(v.prefix == Prefix::ge);
  CHECK(v.lo_ms == ms("1970-03-01"));
  CHECK(v.hi_ms == ms("1970-04-01"));
  q = ok("Observation", "date=lt2020-01-01T10:00:00%2B01:00");
  v = q.criteria[0].values[0];
  CHECK(v.prefix == Prefix::lt);
  CHECK(v.lo_ms == ms("2020-01-01T09:00:00Z"));
  CHECK(v.hi_ms == v.lo_ms + 1000);
  // '+' of a zone that reached us as a space (form decoding) still parses
  auto f = parse_query_string("date=gt2020-01-01T10:00:00+01:00", true);
  auto fq = parse_search("Observation", *f, {});
  REQUIRE(fq.ok());
  CHECK(fq->criteria[0].values[0].lo_ms == ms("2020-01-01T09:00:00Z"));
  for (const char* p : {"ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"})
    CHECK(ok("Patient", std::string("birthdate=") + p + "2000").criteria[0].values[0].prefix != Prefix::eq);
  // ap widens by 10% of the distance to now
  q = ok("Patient", "birthdate=ap2016-01-01");
  v = q.criteria[0].values[0];
  CHECK(v.lo_ms < ms("2015-02-01"));
  CHECK(v.hi_ms > ms("2016-12-01"));
  std::string e = error_of("Patient", "birthdate=xx2020");
  CHECK(e.find("birthdate") != std::string::npos);
  CHECK(e.find("xx2020") != std::string::npos);
  CHECK(error_of("Patient", "birthdate=2020-13-01").find("2020-13-01") != std::string::npos);
  q = ok("Patient", "_lastUpdated=gt2024-05-01");
  CHECK(q.criteria[0].kind == Criterion::Kind::last_updated);
}

TEST_CASE("numbers and quantities: precision of the digits written, units", "[search]") {
  SearchQuery q = ok("RiskAssessment", "probability=100");
  auto v = q.criteria[0].values[0];
  CHECK(v.num == 100);
  CHECK(v.num_lo == Approx(99.5));
  CHECK(v.num_hi == Approx(100.5));
  q = ok("RiskAssessment", "probability=gt0.8");
  CHECK(q.criteria[0].values[0].prefix == Prefix::gt);
  CHECK(q.criteria[0].values[0].num == Approx(0.8));
  CHECK(error_of("RiskAssessment", "probability=abc").find("probability") != std::string::npos);
  CHECK(error_of("RiskAssessment", "probability=zz5").find("zz5") != std::string::npos);
  q = ok("Observation", "value-quantity=le5.4|http://unitsofmeasure.org|mg");
  v = q.criteria[0].values[0];
  CHECK(v.prefix == Prefix::le);
  CHECK(v.num == Approx(5.4));
  CHECK(v.system == "http://unitsofmeasure.org");
  CHECK(v.code == "mg");
  q = ok("Observation", "value-quantity=5.4||mg");
  v = q.criteria[0].values[0];
  CHECK_FALSE(v.has_system);
  CHECK(v.code == "mg");
  CHECK(error_of("Observation", "value-quantity=5|mg").find("quantity") != std::string::npos);
}

TEST_CASE("references: Type/id, bare id with target inference, URLs, :Type, :identifier", "[search]") {
  SearchQuery q = ok("Observation", "subject=Patient/123");
  auto v = q.criteria[0].values[0];
  CHECK(v.ref_type == "Patient");
  CHECK(v.ref_id == "123");
  q = ok("Encounter", "service-provider=123");  // single target: Organization
  CHECK(q.criteria[0].values[0].ref_type == "Organization");
  q = ok("Observation", "subject=123");  // several targets: any type
  CHECK(q.criteria[0].values[0].ref_type.empty());
  q = ok("Observation", "subject:Patient=123");
  CHECK(q.criteria[0].modifier == Modifier::type);
  CHECK(q.criteria[0].values[0].ref_type == "Patient");
  q = ok("Observation", "subject=https://fhir.example/r4/Patient/9/_history/2");
  v = q.criteria[0].values[0];
  CHECK(v.ref_type == "Patient");
  CHECK(v.ref_id == "9");
  CHECK(v.url.empty());
  q = ok("Observation", "subject=http://elsewhere.org/fhir/Patient/9");
  CHECK(q.criteria[0].values[0].url == "http://elsewhere.org/fhir/Patient/9");
  q = ok("Observation", "subject:identifier=http://hospital/mrn|555");
  CHECK(q.criteria[0].modifier == Modifier::identifier);
  CHECK(q.criteria[0].values[0].code == "555");
  CHECK(error_of("Observation", "subject:Medication=1").find("Medication") != std::string::npos);
  CHECK(error_of("Observation", "subject=Foo/1").find("Foo/1") != std::string::npos);
  CHECK(error_of("Observation", "subject:Patient=Group/1").find("Group") != std::string::npos);
}

TEST_CASE("uri modifiers and composites", "[search]") {
  SearchQuery q = ok("ValueSet", "url:below=http://hl7.org/fhir/ValueSet");
  CHECK(q.criteria[0].modifier == Modifier::below);
  q = ok("Observation", "code-value-quantity=http://loinc.org|8480-6$gt100,http://loinc.org|8462-4$lt90");
  const Criterion& c = q.criteria[0];
  CHECK(c.type == ParamType::composite);
  REQUIRE(c.values.size() == 2);
  REQUIRE(c.values[0].parts.size() == 2);
  CHECK(c.values[0].parts[0].code == "8480-6");
  CHECK(c.values[0].parts[1].prefix == Prefix::gt);
  CHECK(c.values[0].parts[1].num == 100);
  CHECK(c.values[1].parts[1].prefix == Prefix::lt);
  CHECK(error_of("Observation", "code-value-quantity=http://loinc.org|8480-6").find("2 components") != std::string::npos);
}

TEST_CASE("chains and reverse chains", "[search]") {
  SearchQuery q = ok("Observation", "subject:Patient.name=peter");
  const Criterion& c = q.criteria[0];
  CHECK(c.kind == Criterion::Kind::chain);
  REQUIRE(c.chain.size() == 1);
  CHECK(c.chain[0].first == "Patient");
  CHECK(c.chain[0].second->param->code == "name");
  // without a type: every target that has the parameter
  q = ok("Observation", "subject.name=peter");
  CHECK(q.criteria[0].chain.size() >= 2);
  for (const auto& t : q.criteria[0].chain) CHECK(t.second->param->code == "name");
  // two levels
  q = ok("Observation", "encounter.service-provider.name=Hospital");
  REQUIRE(q.criteria[0].chain.size() == 1);
  CHECK(q.criteria[0].chain[0].second->kind == Criterion::Kind::chain);
  q = ok("Patient", "_has:Observation:patient:code=1234");
  CHECK(q.criteria[0].kind == Criterion::Kind::has);
  CHECK(q.criteria[0].has_type == "Observation");
  CHECK(q.criteria[0].next->param->code == "code");
  q = ok("Patient", "_has:Observation:patient:_has:Provenance:target:agent=Practitioner/1");
  CHECK(q.criteria[0].next->kind == Criterion::Kind::has);
  CHECK(error_of("Patient", "_has:Observation:code:code=1").find("not a reference") != std::string::npos);
  CHECK(error_of("Patient", "_has:Observation").find("_has:Type") != std::string::npos);
  CHECK(error_of("Observation", "code.name=x").find("cannot be chained") != std::string::npos);
  CHECK(error_of("Observation", "subject:Medication.code=x").find("Medication") != std::string::npos);
}

TEST_CASE("unknown parameters: ignored and reported (lenient) or refused (strict)", "[search]") {
  SearchQuery q = ok("Patient", "name=x&foo=1&_text=abc&subject.name=x");
  CHECK(q.criteria.size() == 1);
  REQUIRE(q.ignored.size() == 3);
  CHECK(q.ignored[0].first == "foo");
  CHECK(q.ignored[1].second.find("not supported") != std::string::npos);
  CHECK(q.canonical.size() == 1);  // only name=x goes into the self link
  std::string e = error_of("Patient", "name=x&foo=1", true);
  CHECK(e.find("foo") != std::string::npos);
  CHECK(e.find("strict") != std::string::npos);
}

TEST_CASE("result parameters", "[search]") {
  SearchQuery q = ok("Observation", "_sort=-date,_id&_count=5000&_total=none&_summary=count&_elements=code,subject");
  REQUIRE(q.sort.size() == 2);
  CHECK(q.sort[0].desc);
  CHECK(q.sort[0].param->code == "date");
  CHECK(q.sort[1].code == "_id");
  CHECK(q.count == 1000);
  CHECK(q.total == Total::none);
  CHECK(q.summary == Summary::count);
  CHECK(q.elements == std::vector<std::string>{"code", "subject"});
  CHECK(ok("Observation", "").count == 50);
  CHECK(error_of("Observation", "_count=-1").find("_count") != std::string::npos);
  CHECK(error_of("Observation", "_summary=maybe").find("_summary") != std::string::npos);
  CHECK(error_of("Observation", "_total=some").find("_total") != std::string::npos);
  q = ok("Observation", "_include=Observation:subject:Patient&_revinclude:iterate=Provenance:target&_include=*");
  REQUIRE(q.includes.size() == 3);
  CHECK(q.includes[0].target_type == "Patient");
  CHECK((q.includes[1].reverse && q.includes[1].iterate && q.includes[1].code == "target"));
  CHECK(q.includes[2].code == "*");
  CHECK(error_of("Observation", "_include=Observation:code").find("not a reference") != std::string::npos);
  CHECK(error_of("Observation", "_include=Observation").find("Type:parameter") != std::string::npos);
  // an _include of another type without :iterate does nothing: reported
  q = ok("Observation", "_include=Encounter:subject");
  CHECK(q.includes.empty());
  CHECK(q.ignored.size() == 1);
}

TEST_CASE("system search: _type decides the parameters", "[search]") {
  SearchQuery q = ok("", "_type=Patient,Observation&_lastUpdated=gt2020&_tag=a|b");
  CHECK(q.types == std::vector<std::string>{"Patient", "Observation"});
  CHECK(q.criteria.size() == 2);
  q = ok("", "name=x");  // not common: ignored
  CHECK(q.ignored.size() == 1);
  q = ok("", "_type=Patient,Practitioner&name=x");  // both have name
  CHECK(q.criteria.size() == 1);
  CHECK(error_of("", "_type=Nope").find("Nope") != std::string::npos);
}

TEST_CASE("_summary and _elements reduce the resource and mark it SUBSETTED", "[search]") {
  std::string body =
      R"({"resourceType":"Patient","id":"1","meta":{"versionId":"2"},"text":{"status":"generated","div":"<div/>"},)"
      R"("name":[{"family":"X"}],"gender":"male","extension":[{"url":"u","valueDecimal":1.50}]})";
  std::string e = subset_resource(body, Summary::none, {"gender"});
  CHECK(e.find("\"gender\":\"male\"") != std::string::npos);
  CHECK(e.find("\"name\"") == std::string::npos);
  CHECK(e.find("SUBSETTED") != std::string::npos);
  CHECK(e.find("\"versionId\":\"2\"") != std::string::npos);
  std::string s = subset_resource(body, Summary::true_, {});
  CHECK(s.find("\"text\"") == std::string::npos);
  CHECK(s.find("\"extension\"") == std::string::npos);
  CHECK(s.find("\"name\"") != std::string::npos);
  std::string d = subset_resource(body, Summary::data, {});
  CHECK(d.find("\"text\"") == std::string::npos);
  CHECK(d.find("1.50") != std::string::npos);  // numbers kept exactly
  CHECK(subset_resource(body, Summary::none, {}) == body);
}

TEST_CASE("_summary=true follows the isSummary flags of the R4 definitions, in definition order", "[search]") {
  std::string body =
      R"({"resourceType":"Patient","id":"1","photo":[{"url":"http://x"}],"active":true,"birthDate":"1970",)"
      R"("communication":[{"language":{"text":"en"}}],"link":[{"other":{"reference":"Patient/2"},"type":"seealso"}],)"
      R"("maritalStatus":{"text":"M"},"gender":"male"})";
  std::string s = subset_resource(body, Summary::true_, {});
  CHECK(s.find("\"photo\"") == std::string::npos);          // not summary
  CHECK(s.find("\"communication\"") == std::string::npos);  // not summary
  CHECK(s.find("\"maritalStatus\"") == std::string::npos);  // not summary
  CHECK(s.find("\"link\"") != std::string::npos);           // summary (and modifier)
  CHECK(s.rfind(R"({"resourceType":"Patient","id":"1","meta":{"tag":[)", 0) == 0);
  CHECK(s.find(R"("active":true,"gender":"male","birthDate":"1970","link")") != std::string::npos);
  // backbone elements are reduced to their summary (and mandatory) children
  std::string obs = subset_resource(
      R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"component":[{"code":{"text":"c"},)"
      R"("valueString":"v","interpretation":[{"text":"i"}]}]})",
      Summary::true_, {});
  CHECK(obs.find("\"component\"") != std::string::npos);
  CHECK(obs.find("\"interpretation\"") == std::string::npos);
  // _elements keeps the mandatory elements
  std::string e = subset_resource(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"issued":"2020-01-01T00:00:00Z"})",
                                  Summary::none, {"issued"});
  CHECK(e.find("\"status\"") != std::string::npos);
  CHECK(e.find("\"code\"") != std::string::npos);
}

TEST_CASE("search budgets: OR values, parameters, values in all, query strings", "[search]") {
  auto list = [](const std::string& prefix, int n) {
    std::string v;
    for (int i = 0; i < n; ++i) v += (i ? "," : "") + prefix + std::to_string(i);
    return v;
  };
  SearchParseOptions o;
  CHECK(o.budget.max_or_values == 100);
  QueryParams at{{"code", list("c", 100)}};
  CHECK(parse_search("Observation", at, o).ok());
  QueryParams over{{"code", list("c", 101)}};
  auto r = parse_search("Observation", over, o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code == Err::invalid);
  CHECK(r.status().message.find("'code'") != std::string::npos);
  CHECK(r.status().message.find("max_or_values") != std::string::npos);
  QueryParams ids{{"_id", list("i", 101)}};
  CHECK_FALSE(parse_search("Observation", ids, o).ok());
  // chains count once per target type: subject has several
  o.budget.max_search_values = 150;
  QueryParams chain{{"subject.name", list("n", 80)}};  // Patient and Location have name: 160
  auto rc = parse_search("Observation", chain, o);
  REQUIRE_FALSE(rc.ok());
  CHECK(rc.status().message.find("max_search_values") != std::string::npos);
  QueryParams many;
  for (int i = 0; i < 101; ++i) many.emplace_back("status", "final");
  auto rm = parse_search("Observation", many, SearchParseOptions());
  REQUIRE_FALSE(rm.ok());
  CHECK(rm.status().message.find("max_search_params") != std::string::npos);
  // query strings
  std::string qs;
  for (int i = 0; i < 101; ++i) qs += (i ? "&" : "") + std::string("a=") + std::to_string(i);
  auto q = parse_query_string(qs, false);
  REQUIRE_FALSE(q.ok());
  CHECK(q.status().message.find("max_query_params") != std::string::npos);
  auto longq = parse_query_string("a=" + std::string(9000, 'x'), false);
  REQUIRE_FALSE(longq.ok());
  CHECK(longq.status().message.find("max_url_bytes") != std::string::npos);
}
