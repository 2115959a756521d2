// Tests for fhir/indexer: normalisation helpers, and rows extracted from real Synthea
// resources (tests/data/synthea), each expected value read from the JSON directly.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "fhir/indexer.h"
#include "../testing.h"
#include "util/time.h"

using namespace ef;
using namespace ef::fhir;

namespace {

const char* kBernardo = "tests/data/synthea/Bernardo_Ordóñez_ee5ce8e4-160e-4265-88ea-a2ebf4e2dfa9.json";

json::Value parse_resource_text(const std::string& text) { return testing::fhir_json(text); }

json::Value load_bundle(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_resource_text(ss.str());
}

// The first entry resource of `type` in the bundle satisfying pred.
template <class P>
const json::Value* find_resource(const json::Value& bundle, const std::string& type, P pred) {
  const json::Array* entries = json::get_array(bundle, "entry");
  REQUIRE(entries);
  for (const json::Value& e : *entries) {
    const json::Value* r = json::get(e, "resource");
    if (r && json::string_or(*r, "resourceType") == type && pred(*r)) return r;
  }
  return nullptr;
}

std::vector<const IndexRow*> rows_for(const IndexRows& rows, const std::string& param) {
  std::vector<const IndexRow*> out;
  for (const IndexRow& r : rows)
    if (r.param == param) out.push_back(&r);
  return out;
}

IndexRows index_of(const json::Value& v) {
  IndexRows rows;
  extract_index(v, &rows);
  return rows;
}

const std::string& str_at(const json::Value& v, const char* key) {
  const std::string* s = json::get_string(v, key);
  REQUIRE(s);
  return *s;
}

}  // namespace

TEST_CASE("indexer: string normalisation folds case, accents and whitespace", "[fhir]") {
  CHECK(normalize_string("Ordóñez") == "ordonez");
  CHECK(normalize_string("  ÀÉÎÕÜ  çÇ\t\n ñ ") == "aeiou cc n");
  CHECK(normalize_string("Straße") == "strasse");
  CHECK(normalize_string("Łódź Œuvre Ærø") == "lodz oeuvre aero");
  CHECK(normalize_string("Dvořák Šťastný") == "dvorak stastny");
  CHECK(normalize_string("e\xCC\x81t\xC3\xA9") == "ete");          // combining acute + precomposed
  CHECK(normalize_string("日本 Ελλάδα") == "日本 Ελλάδα");  // other scripts unchanged
  CHECK(normalize_string("a\xC2\xA0" "b") == "a b");                 // no-break space
  CHECK(normalize_string("") == "");
  CHECK(normalize_string(" \t ") == "");
}

TEST_CASE("indexer: number precision ranges follow the written digits", "[fhir]") {
  struct Case {
    const char* text;
    double v, lo, hi;
  } cases[] = {
      {"1.5", 1.5, 1.45, 1.55},   {"100", 100, 99.5, 100.5},     {"-0.10", -0.1, -0.105, -0.095},
      {"1e2", 100, 50, 150},      {"1.50e-1", 0.15, 0.1495, 0.1505}, {"0", 0, -0.5, 0.5},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    double v, lo, hi;
    REQUIRE(number_range(c.text, &v, &lo, &hi));
    CHECK(v == Approx(c.v));
    CHECK(lo == Approx(c.lo));
    CHECK(hi == Approx(c.hi));
  }
  double v, lo, hi;
  for (const char* bad : {"", "abc", "1.2.3", "1e", "--1", "1x"}) {
    INFO(bad);
    CHECK_FALSE(number_range(bad, &v, &lo, &hi));
  }
}

TEST_CASE("indexer: date ranges per precision and open periods", "[fhir]") {
  auto rows = index_of(parse_resource_text(R"({"resourceType":"Patient","id":"x","birthDate":"1957"})"));
  auto bd = rows_for(rows, "birthdate");
  REQUIRE(bd.size() == 1);
  const int64_t day = 86400000;
  CHECK(bd[0]->type == ParamType::date);
  CHECK(bd[0]->lo_ms == timefmt::days_from_civil(1957, 1, 1) * day);
  CHECK(bd[0]->hi_ms == timefmt::days_from_civil(1958, 1, 1) * day);

  rows = index_of(parse_resource_text(R"({"resourceType":"Patient","birthDate":"1957-06"})"));
  bd = rows_for(rows, "birthdate");
  REQUIRE(bd.size() == 1);
  CHECK(bd[0]->lo_ms == timefmt::days_from_civil(1957, 6, 1) * day);
  CHECK(bd[0]->hi_ms == timefmt::days_from_civil(1957, 7, 1) * day);

  rows = index_of(parse_resource_text(
      R"({"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"period":{"start":"2020-03-04T10:00:00+01:00"}})"));
  auto d = rows_for(rows, "date");
  REQUIRE(d.size() == 1);
  CHECK(d[0]->lo_ms == (timefmt::days_from_civil(2020, 3, 4) * day + 9 * 3600000));
  CHECK(d[0]->hi_ms == kDateMax);

  rows = index_of(parse_resource_text(R"({"resourceType":"Encounter","period":{"end":"2020-03-04"}})"));
  d = rows_for(rows, "date");
  REQUIRE(d.size() == 1);
  CHECK(d[0]->lo_ms == kDateMin);
  CHECK(d[0]->hi_ms == timefmt::days_from_civil(2020, 3, 5) * day);

  // Timing events (MedicationRequest? no: CarePlan.activity.detail.scheduled is Timing)
  rows = index_of(parse_resource_text(R"({"resourceType":"CarePlan","activity":[{"detail":{"status":"scheduled",
      "scheduledTiming":{"event":["2021-01-01","2021-02-01"]}}}]})"));
  d = rows_for(rows, "activity-date");
  REQUIRE(d.size() == 2);
  CHECK(d[1]->lo_ms == timefmt::days_from_civil(2021, 2, 1) * day);
  // malformed dates produce no row
  rows = index_of(parse_resource_text(R"({"resourceType":"Patient","birthDate":"1957-13-01"})"));
  CHECK(rows_for(rows, "birthdate").empty());
}

TEST_CASE("indexer: Synthea Patient — names, address, identifiers, telecom, meta", "[fhir]") {
  json::Value bundle = load_bundle(kBernardo);
  const json::Value* p = find_resource(bundle, "Patient", [](const json::Value&) { return true; });
  REQUIRE(p);
  IndexRows rows = index_of(*p);

  // _id is searched on the resource table (SearchParam::from_columns): no rows
  CHECK(rows_for(rows, "_id").empty());

  const json::Value& name0 = json::get_array(*p, "name")->at(0);
  const std::string& family = str_at(name0, "family");
  CHECK(family == "Ordóñez");  // the file name promises an accented family name
  auto fam = rows_for(rows, "family");
  REQUIRE(fam.size() >= 1);
  CHECK(fam[0]->exact == family);
  CHECK(fam[0]->text == "ordonez");
  // name rows cover every family, given and prefix of every name
  auto name = rows_for(rows, "name");
  size_t parts = 0;
  for (const json::Value& n : *json::get_array(*p, "name")) {
    for (const char* k : {"given", "prefix", "suffix"})
      if (const json::Array* a = json::get_array(n, k))
        for (const json::Value& g : *a) {
          ++parts;
          std::string norm = normalize_string(*json::as_string(g));
          CHECK(std::any_of(name.begin(), name.end(), [&](const IndexRow* r) { return r->text == norm; }));
        }
    if (json::get_string(n, "family")) ++parts;
  }
  CHECK(name.size() <= parts);  // duplicates removed
  CHECK(name.size() >= 2);

  const json::Value& addr = json::get_array(*p, "address")->at(0);
  auto city = rows_for(rows, "address-city");
  REQUIRE(city.size() == 1);
  CHECK(city[0]->exact == str_at(addr, "city"));
  CHECK(city[0]->text == normalize_string(str_at(addr, "city")));
  auto address = rows_for(rows, "address");
  CHECK(std::any_of(address.begin(), address.end(), [&](const IndexRow* r) {
    return r->exact == *json::as_string(json::get_array(addr, "line")->at(0));
  }));

  // identifiers: system|value, with the type coding for :of-type
  auto ids = rows_for(rows, "identifier");
  size_t want_ids = 0;
  for (const json::Value& i : *json::get_array(*p, "identifier")) {
    ++want_ids;
    const json::Value* type = json::get(i, "type");
    std::string type_code = type ? str_at(json::get_array(*type, "coding")->at(0), "code") : "";
    CHECK(std::any_of(ids.begin(), ids.end(), [&](const IndexRow* r) {
      return r->system == str_at(i, "system") && r->code == str_at(i, "value") && r->type_code == type_code;
    }));
  }
  CHECK(ids.size() == want_ids);

  const json::Value& tel = json::get_array(*p, "telecom")->at(0);
  auto phone = rows_for(rows, "phone");
  REQUIRE(phone.size() == 1);
  CHECK(phone[0]->code == str_at(tel, "value"));
  CHECK(phone[0]->system.empty());
  CHECK(rows_for(rows, "email").empty());

  auto gender = rows_for(rows, "gender");
  REQUIRE(gender.size() == 1);
  CHECK(gender[0]->code == str_at(*p, "gender"));
  auto tag = rows_for(rows, "_tag");
  const json::Value& tag0 = json::get_array(*json::get(*p, "meta"), "tag")->at(0);
  REQUIRE(tag.size() == 1);
  CHECK(tag[0]->system == str_at(tag0, "system"));
  CHECK(tag[0]->code == str_at(tag0, "code"));
  // deceasedDateTime: deceased=true and death-date from it
  auto dec = rows_for(rows, "deceased");
  REQUIRE(dec.size() == 1);
  CHECK(dec[0]->code == (json::get(*p, "deceasedDateTime") || json::get(*p, "deceasedBoolean") ? "true" : "false"));
  for (const IndexRow& r : rows) CHECK(r.group == 0);
}

TEST_CASE("indexer: Synthea Observation valueQuantity and blood-pressure composites", "[fhir]") {
  json::Value bundle = load_bundle(kBernardo);
  const json::Value* o = find_resource(bundle, "Observation", [](const json::Value& r) {
    return json::get(r, "valueQuantity") != nullptr;
  });
  REQUIRE(o);
  IndexRows rows = index_of(*o);
  const json::Value& q = *json::get(*o, "valueQuantity");
  double value = 0;
  REQUIRE(json::number_value(*json::get(q, "value"), &value));
  auto vq = rows_for(rows, "value-quantity");
  REQUIRE(vq.size() == 1);
  CHECK(vq[0]->type == ParamType::quantity);
  CHECK(vq[0]->num == value);
  CHECK(vq[0]->num_lo < value);
  CHECK(vq[0]->num_hi > value);
  CHECK(vq[0]->system == str_at(q, "system"));
  CHECK(vq[0]->code == str_at(q, "code"));
  CHECK(vq[0]->text == str_at(q, "unit"));
  const json::Value& coding = json::get_array(*json::get(*o, "code"), "coding")->at(0);
  auto code = rows_for(rows, "code");
  REQUIRE(code.size() >= 1);
  CHECK(code[0]->system == str_at(coding, "system"));
  CHECK(code[0]->code == str_at(coding, "code"));
  CHECK(code[0]->text == normalize_string(str_at(coding, "display")));
  auto date = rows_for(rows, "date");
  REQUIRE(date.size() == 1);
  CHECK(date[0]->lo_ms == timefmt::parse_fhir_time(str_at(*o, "effectiveDateTime"))->lo_ms);
  // composite code-value-quantity: one group with the code and the value
  auto c0 = rows_for(rows, "code-value-quantity$0");
  auto c1 = rows_for(rows, "code-value-quantity$1");
  REQUIRE(c0.size() >= 1);
  REQUIRE(c1.size() == 1);
  CHECK(c0[0]->group == c1[0]->group);
  CHECK(c0[0]->group > 0);
  CHECK(c0[0]->code == str_at(coding, "code"));
  CHECK(c1[0]->num == value);
  CHECK(rows_for(rows, "code-value-concept$0").empty());  // no valueCodeableConcept: no combination

  // blood pressure: components each get their own group, code and value in the same group
  const json::Value* bp = find_resource(bundle, "Observation", [](const json::Value& r) {
    return json::get_array(r, "component") != nullptr;
  });
  REQUIRE(bp);
  IndexRows bprows = index_of(*bp);
  auto k0 = rows_for(bprows, "component-code-value-quantity$0");
  auto k1 = rows_for(bprows, "component-code-value-quantity$1");
  const json::Array& comps = *json::get_array(*bp, "component");
  REQUIRE(k0.size() == comps.size());
  REQUIRE(k1.size() == comps.size());
  for (const json::Value& comp : comps) {
    const std::string& ccode = str_at(json::get_array(*json::get(comp, "code"), "coding")->at(0), "code");
    double cv = 0;
    REQUIRE(json::number_value(*json::get(*json::get(comp, "valueQuantity"), "value"), &cv));
    auto code_row = std::find_if(k0.begin(), k0.end(), [&](const IndexRow* r) { return r->code == ccode; });
    REQUIRE(code_row != k0.end());
    auto value_row = std::find_if(k1.begin(), k1.end(), [&](const IndexRow* r) { return r->group == (*code_row)->group; });
    REQUIRE(value_row != k1.end());
    CHECK((*value_row)->num == cv);
  }
  // groups are unique per combination within the resource
  std::map<int, std::string> owner;
  for (const IndexRow& r : bprows) {
    if (r.group == 0) continue;
    std::string comp = r.param.substr(0, r.param.find('$'));
    auto [it, fresh] = owner.emplace(r.group, comp);
    CHECK(it->second == comp);
  }
  CHECK(owner.size() >= 2 * comps.size());  // combo-... and component-... composites
}

TEST_CASE("indexer: Synthea Encounter period and MedicationRequest references", "[fhir]") {
  json::Value bundle = load_bundle(kBernardo);
  const json::Value* enc = find_resource(bundle, "Encounter", [](const json::Value& r) {
    const json::Value* p = json::get(r, "period");
    return p && json::get(*p, "start") && json::get(*p, "end");
  });
  REQUIRE(enc);
  IndexRows rows = index_of(*enc);
  const json::Value& period = *json::get(*enc, "period");
  auto d = rows_for(rows, "date");
  REQUIRE(d.size() == 1);
  CHECK(d[0]->lo_ms == timefmt::parse_fhir_time(str_at(period, "start"))->lo_ms);
  CHECK(d[0]->hi_ms == timefmt::parse_fhir_time(str_at(period, "end"))->hi_ms);
  CHECK(d[0]->lo_ms < d[0]->hi_ms);
  auto cls = rows_for(rows, "class");
  REQUIRE(cls.size() == 1);
  CHECK(cls[0]->code == str_at(*json::get(*enc, "class"), "code"));

  const json::Value* mr = find_resource(bundle, "MedicationRequest", [](const json::Value&) { return true; });
  REQUIRE(mr);
  rows = index_of(*mr);
  const std::string& subject = str_at(*json::get(*mr, "subject"), "reference");
  REQUIRE(subject.rfind("urn:uuid:", 0) == 0);  // Synthea bundles use urn:uuid references
  auto subj = rows_for(rows, "subject");
  REQUIRE(subj.size() == 1);
  CHECK(subj[0]->exact == subject);
  CHECK(subj[0]->ref_type.empty());
  CHECK(rows_for(rows, "patient").empty());  // urn:uuid: type unknown, so not "resolve() is Patient"
  const json::Value& med = json::get_array(*json::get(*mr, "medicationCodeableConcept"), "coding")->at(0);
  auto code = rows_for(rows, "code");
  REQUIRE(code.size() >= 1);
  CHECK(code[0]->code == str_at(med, "code"));
  auto authored = rows_for(rows, "authoredon");
  REQUIRE(authored.size() == 1);
  CHECK(authored[0]->lo_ms == timefmt::parse_fhir_time(str_at(*mr, "authoredOn"))->lo_ms);

  // after a transaction rewrote the references (as the server does), patient/subject resolve
  json::Value copy = *mr;
  json::Value* s = json::get_mut(copy, "subject");
  REQUIRE(s);
  (*json::as_object_mut(*s))["reference"] = json::Value(std::string("Patient/abc-123"));
  (*json::as_object_mut(*json::get_mut(copy, "requester")))["reference"] =
      json::Value(std::string("https://fhir.example.org/r4/Practitioner/pr-9/_history/3"));
  rows = index_of(copy);
  for (const char* param : {"subject", "patient"}) {
    INFO(param);
    auto r = rows_for(rows, param);
    REQUIRE(r.size() == 1);
    CHECK(r[0]->ref_type == "Patient");
    CHECK(r[0]->ref_id == "abc-123");
    CHECK(r[0]->exact.empty());
  }
  auto req = rows_for(rows, "requester");
  REQUIRE(req.size() == 1);
  CHECK(req[0]->ref_type == "Practitioner");
  CHECK(req[0]->ref_id == "pr-9");
  CHECK(req[0]->exact == "https://fhir.example.org/r4/Practitioner/pr-9/_history/3");
}

TEST_CASE("indexer: references by identifier, inline resources, Money, Range, contained", "[fhir]") {
  IndexRows rows = index_of(parse_resource_text(R"({"resourceType":"Observation","status":"final",
      "subject":{"identifier":{"system":"urn:sys","value":"42"},"display":"X"},
      "performer":[{"reference":"#c1"}],"contained":[{"resourceType":"Practitioner","id":"c1"}]})"));
  auto s = rows_for(rows, "subject");
  REQUIRE(s.size() == 1);
  CHECK(s[0]->system == "urn:sys");
  CHECK(s[0]->code == "42");
  CHECK(s[0]->ref_type.empty());
  auto perf = rows_for(rows, "performer");
  REQUIRE(perf.size() == 1);
  CHECK(perf[0]->exact == "#c1");

  rows = index_of(parse_resource_text(R"({"resourceType":"Bundle","type":"document",
      "entry":[{"resource":{"resourceType":"Composition","id":"comp1"}}]})"));
  auto comp = rows_for(rows, "composition");
  REQUIRE(comp.size() == 1);
  CHECK(comp[0]->ref_type == "Composition");
  CHECK(comp[0]->ref_id == "comp1");

  rows = index_of(parse_resource_text(R"({"resourceType":"ChargeItem","priceOverride":{"value":12.50,"currency":"EUR"}})"));
  auto money = rows_for(rows, "price-override");
  REQUIRE(money.size() == 1);
  CHECK(money[0]->num == 12.5);
  CHECK(money[0]->num_lo == Approx(12.495));
  CHECK(money[0]->system == "urn:iso:std:iso:4217");
  CHECK(money[0]->code == "EUR");

  rows = index_of(parse_resource_text(R"({"resourceType":"Condition","onsetRange":{"low":{"value":10,"unit":"a"},"high":{"value":20,"unit":"a"}},
      "onsetString":"childhood"})"));
  auto age = rows_for(rows, "onset-age");
  REQUIRE(age.size() == 1);
  CHECK(age[0]->num_lo == 10);
  CHECK(age[0]->num_hi == 20);
  CHECK(age[0]->text == "a");
  auto info = rows_for(rows, "onset-info");
  REQUIRE(info.size() == 1);
  CHECK(info[0]->text == "childhood");

  // not an object / unknown type: nothing, no crash
  IndexRows none;
  extract_index(json::Value(std::string("x")), &none);
  extract_index(parse_resource_text(R"({"resourceType":"NoSuchType","id":"1"})"), &none);
  CHECK(none.empty());
}

TEST_CASE("indexer: every resource of three Synthea bundles indexes", "[fhir]") {
  const char* files[] = {
      kBernardo,
      "tests/data/synthea/Alberto_Atencio_fc712d1f-5a2e-4407-9c55-a2a2bad623c2.json",
      "tests/data/synthea/Alfreda_Wyman_3287b938-4670-47eb-91e5-e0ce3df71405.json",
  };
  size_t resources = 0, rows_total = 0;
  double seconds = 0;
  std::map<std::string, size_t> by_type;
  for (const char* f : files) {
    json::Value bundle = load_bundle(f);
    const json::Array* entries = json::get_array(bundle, "entry");
    REQUIRE(entries);
    for (const json::Value& e : *entries) {
      const json::Value* r = json::get(e, "resource");
      REQUIRE(r);
      IndexRows rows;
      auto t0 = std::chrono::steady_clock::now();
      extract_index(*r, &rows);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const std::string& type = str_at(*r, "resourceType");
      INFO(type << "/" << json::string_or(*r, "id"));
      // at least one parameter of the type itself (_id and _lastUpdated have no rows)
      REQUIRE(rows.size() >= 1);
      CHECK(rows_for(rows, "_id").empty());
      CHECK(rows_for(rows, "_lastUpdated").empty());
      for (const IndexRow& row : rows) {
        std::string base_param = row.param.substr(0, row.param.find('$'));
        const SearchParam* p = registry().find(type, base_param);
        REQUIRE(p);
        CHECK(p->supported);
        if (p->type == ParamType::composite) CHECK(row.group > 0);
        else CHECK(row.type == p->type);
        if (row.type == ParamType::date) CHECK(row.lo_ms < row.hi_ms);
        if (row.type == ParamType::number || row.type == ParamType::quantity) CHECK(row.num_lo <= row.num_hi);
        if (row.type == ParamType::string) CHECK_FALSE(row.text.empty());
      }
      ++resources;
      rows_total += rows.size();
      by_type[type] += rows.size();
    }
  }
  CHECK(resources > 300);
  double per = double(rows_total) / double(resources);
  CHECK(per > 5);
  CHECK(per < 60);
  WARN(resources << " resources, " << rows_total << " rows (" << per << " per resource), "
                 << (seconds * 1e6 / double(resources)) << " us per resource");
}

TEST_CASE("indexer: common parameters from meta, and number parameters", "[fhir]") {
  IndexRows rows = index_of(parse_resource_text(R"({"resourceType":"Binary","id":"b1","contentType":"text/plain",
      "meta":{"lastUpdated":"2026-11-28T10:00:00.123Z","profile":["http://x/StructureDefinition/p"],
      "security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}],
      "source":"http://src/1","tag":[{"system":"s","code":"t","display":"Tag T"}]}})"));
  // meta.lastUpdated and id are searched on the resource table's columns, not through rows
  CHECK(rows_for(rows, "_lastUpdated").empty());
  CHECK(rows_for(rows, "_id").empty());
  CHECK(registry().find("Binary", "_lastUpdated")->from_columns());
  CHECK_FALSE(registry().find("Binary", "_profile")->from_columns());
  auto prof = rows_for(rows, "_profile");
  REQUIRE(prof.size() == 1);
  CHECK(prof[0]->type == ParamType::uri);
  CHECK(prof[0]->exact == "http://x/StructureDefinition/p");
  auto sec = rows_for(rows, "_security");
  REQUIRE(sec.size() == 1);
  CHECK(sec[0]->code == "R");
  auto src = rows_for(rows, "_source");
  REQUIRE(src.size() == 1);
  CHECK(src[0]->exact == "http://src/1");
  auto tag = rows_for(rows, "_tag");
  REQUIRE(tag.size() == 1);
  CHECK(tag[0]->text == "tag t");

  rows = index_of(parse_resource_text(R"({"resourceType":"MolecularSequence","coordinateSystem":0,
      "referenceSeq":{"chromosome":{"coding":[{"code":"1"}]},"windowStart":22125500,"windowEnd":22125510}})"));
  auto ws = rows_for(rows, "window-start");
  REQUIRE(ws.size() == 1);
  CHECK(ws[0]->type == ParamType::number);
  CHECK(ws[0]->num == 22125500);
  CHECK(ws[0]->num_lo == 22125499.5);
  CHECK(ws[0]->num_hi == 22125500.5);
  // composite with three components: chromosome (token) + window start/end (numbers)
  auto c0 = rows_for(rows, "chromosome-window-coordinate$0");
  auto c1 = rows_for(rows, "chromosome-window-coordinate$1");
  auto c2 = rows_for(rows, "chromosome-window-coordinate$2");
  REQUIRE(c0.size() == 1);
  REQUIRE(c1.size() == 1);
  REQUIRE(c2.size() == 1);
  CHECK(c0[0]->code == "1");
  CHECK(c1[0]->num == 22125500);
  CHECK(c2[0]->num == 22125510);
  CHECK(c0[0]->group == c2[0]->group);
}

TEST_CASE("indexer: duplicate rows are removed, first occurrences kept in order", "[fhir]") {
  json::Array ids;
  for (const char* v : {"a", "b", "a", "c", "b", "a"}) {
    json::Object o;
    o["value"] = json::Value(std::string(v));
    ids.push_back(json::Value(o));
  }
  json::Object obs;
  obs["resourceType"] = json::Value(std::string("Observation"));
  obs["identifier"] = json::Value(ids);
  IndexRows rows;
  extract_index(json::Value(obs), &rows);
  std::vector<std::string> codes;
  for (const auto& r : rows)
    if (r.param == "identifier") codes.push_back(r.code);
  CHECK(codes == std::vector<std::string>{"a", "b", "c"});
  // 40,000 distinct identifiers, all kept (the pairwise de-duplication this replaced took 4 s)
  json::Array many;
  for (int i = 0; i < 40000; ++i) {
    json::Object o;
    o["value"] = json::Value("i" + std::to_string(i));
    many.push_back(json::Value(o));
  }
  obs["identifier"] = json::Value(many);
  rows.clear();
  extract_index(json::Value(obs), &rows);
  size_t n = 0;
  for (const auto& r : rows) n += r.param == "identifier";
  CHECK(n == 40000);
}
