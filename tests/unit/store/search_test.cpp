// Tests for store/search: SQL execution of parsed searches on a temporary database whose
// index rows are written by hand (so every expected match follows from the rows below):
// each parameter type and modifier, prefixes against precision ranges, composites (group
// semantics), chains, _has, sorting, keyset paging (also while inserting), includes,
// compartments, totals, deletes and resolve_matches.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "fhir/indexer.h"
#include "fhir/search_params.h"
#include "fhir/search_query.h"
#include "store/resources.h"
#include "store/search.h"
#include "util/time.h"
#include "../testing.h"

using namespace ef;
using fhir::IndexRow;
using fhir::IndexRows;
using fhir::ParamType;

namespace {

int64_t ms(const char* t) { return timefmt::parse_fhir_time(t)->lo_ms; }

IndexRow row(const char* param, ParamType t) {
  IndexRow r;
  r.param = param;
  r.type = t;
  return r;
}
IndexRow str(const char* p, const std::string& exact, const std::string& norm) {
  IndexRow r = row(p, ParamType::string);
  r.exact = exact;
  r.text = norm;
  return r;
}
IndexRow tok(const char* p, const std::string& sys, const std::string& code, const std::string& text = {}) {
  IndexRow r = row(p, ParamType::token);
  r.system = sys;
  r.code = code;
  r.text = text;
  return r;
}
IndexRow date(const char* p, const char* value) {
  IndexRow r = row(p, ParamType::date);
  auto t = timefmt::parse_fhir_time(value);
  r.lo_ms = t->lo_ms;
  r.hi_ms = t->hi_ms;
  return r;
}
IndexRow qty(const char* p, double v, double half, const std::string& sys = {}, const std::string& code = {}, int grp = 0) {
  IndexRow r = row(p, ParamType::quantity);
  r.num = v;
  r.num_lo = v - half;
  r.num_hi = v + half;
  r.system = sys;
  r.code = code;
  r.group = grp;
  return r;
}
IndexRow ref(const char* p, const std::string& type, const std::string& id, const std::string& exact = {}) {
  IndexRow r = row(p, ParamType::reference);
  r.ref_type = type;
  r.ref_id = id;
  r.exact = exact;
  return r;
}

// A view limited to one patient's compartment for every type (what a patient/*.rs scope gives),
// optionally with criteria on one type (a v2 ?param constraint).
struct PatientView : store::View {
  std::string patient;
  std::string constrained_type;
  std::vector<fhir::Criterion> criteria;
  mutable std::map<std::string, store::TypeView> cache;
  explicit PatientView(std::string p) : patient(std::move(p)) {}
  const store::TypeView& type_view(const std::string& t) const override {
    auto it = cache.find(t);
    if (it != cache.end()) return it->second;
    store::TypeView tv;
    tv.visible = t == "Patient" || !fhir::registry().compartment_params(t).empty();
    store::ViewAlt alt;
    alt.patient = patient;
    if (t == constrained_type) alt.criteria = criteria;
    tv.alts.push_back(alt);
    return cache[t] = tv;
  }
};

struct Db {
  std::string path;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<store::Resources> res;
  int64_t now = ms("2024-01-01");

  explicit Db(const char* name) {
    path = testing::temp_db(std::string("search-") + name);
    open();
  }
  // Closes the database and opens it again (applying any migration not recorded as done).
  void reopen() {
    res.reset();
    db.reset();
    open();
  }
  void open() {
    auto d = store::Database::open(path);
    REQUIRE(d.ok());
    db = std::move(*d);
    res = std::make_unique<store::Resources>(*db);
    // every parameter of the types used here, composites as "code$k" (k from 0, fhir/indexer.h)
    std::vector<std::pair<std::string, std::string>> params;
    const auto& reg = fhir::registry();
    for (const char* t : {"Patient", "Observation", "Encounter", "Organization", "Practitioner", "Provenance", "Group"})
      for (const fhir::SearchParam* p : reg.params_for(t)) {
        params.emplace_back(t, p->code);
        for (size_t k = 0; k < p->components.size(); ++k) params.emplace_back(t, p->code + "$" + std::to_string(k));
      }
    REQUIRE(res->init(params).ok());
  }
  ~Db() {
    db.reset();
    for (const char* suf : {"", "-wal", "-shm"}) std::remove((path + suf).c_str());
  }

  void put(const std::string& type, const std::string& id, const IndexRows& rows) {
    Status st = db->write([&](store::Conn& c) -> Status {
      auto cur = res->current(c, type, id);
      if (!cur) return cur.status();
      int64_t v = *cur ? (*cur)->version + 1 : 1;
      std::string body = "{\"resourceType\":\"" + type + "\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":\"" +
                         std::to_string(v) + "\"}}";
      return res->write_version(c, type, id, v, body, "PUT", now++, rows).status();
    });
    REQUIRE(st.ok());
  }
  void del(const std::string& type, const std::string& id) {
    Status st = db->write([&](store::Conn& c) -> Status {
      auto cur = res->current(c, type, id);
      return res->write_delete(c, type, id, (*cur)->version + 1, now++).status();
    });
    REQUIRE(st.ok());
  }

  fhir::SearchQuery query(const std::string& type, const std::string& qs) {
    auto p = fhir::parse_query_string(qs, false);
    REQUIRE(p.ok());
    fhir::SearchParseOptions o;
    o.base_url = "http://base";
    auto q = fhir::parse_search(type, *p, o);
    INFO(qs << ": " << q.status().message);
    REQUIRE(q.ok());
    return *q;
  }

  store::SearchPage page(const fhir::SearchQuery& q, const store::View* view = nullptr) {
    Result<store::SearchPage> out = Status();
    Status st = db->read([&](store::Conn& c) {
      store::SearchRunOptions ro;
      ro.view = view;
      out = store::run_search(c, q, ro);
      return out.status();
    });
    INFO(st.message);
    REQUIRE(st.ok());
    return *out;
  }

  // ids of all matches (one page of up to 1000), sorted unless the query sorts
  std::vector<std::string> ids(const std::string& type, const std::string& qs) {
    fhir::SearchQuery q = query(type, qs);
    store::SearchPage p = page(q);
    std::vector<std::string> out;
    for (auto& r : p.matches) out.push_back(r.id);
    if (q.sort.empty()) std::sort(out.begin(), out.end());
    return out;
  }
};

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("string search: starts-with on normalised text, :exact, :contains", "[search]") {
  Db d("string");
  d.put("Patient", "p1", {str("family", "Ordóñez", "ordonez"), str("given", "Bernardo", "bernardo")});
  d.put("Patient", "p2", {str("family", "Ord", "ord")});
  d.put("Patient", "p3", {str("family", "Smith", "smith")});
  CHECK(d.ids("Patient", "family=ORD") == V{"p1", "p2"});
  CHECK(d.ids("Patient", "family=ordon") == V{"p1"});
  CHECK(d.ids("Patient", "family:exact=Ord") == V{"p2"});
  CHECK(d.ids("Patient", "family:exact=ord").empty());
  CHECK(d.ids("Patient", "family:contains=mit") == V{"p3"});
  CHECK(d.ids("Patient", "family:contains=%25").empty());  // LIKE wildcards are escaped
  CHECK(d.ids("Patient", "family=smith,bern") == V{"p3"});
  CHECK(d.ids("Patient", "family=ord&given=bern") == V{"p1"});
  CHECK(d.ids("Patient", "given:missing=true") == V{"p2", "p3"});
  CHECK(d.ids("Patient", "given:missing=false") == V{"p1"});
  CHECK(d.ids("Patient", "") == V{"p1", "p2", "p3"});
}

TEST_CASE("token search: system|code forms, :not, :text, :of-type, _id", "[search]") {
  Db d("token");
  d.put("Observation", "o1", {tok("code", "http://loinc.org", "8480-6", "systolic blood pressure")});
  d.put("Observation", "o2", {tok("code", "", "8480-6")});
  d.put("Observation", "o3", {tok("code", "http://other", "x", "heart rate")});
  d.put("Observation", "o4", {});
  CHECK(d.ids("Observation", "code=8480-6") == V{"o1", "o2"});
  CHECK(d.ids("Observation", "code=http://loinc.org|8480-6") == V{"o1"});
  CHECK(d.ids("Observation", "code=|8480-6") == V{"o2"});
  CHECK(d.ids("Observation", "code=http://other|") == V{"o3"});
  CHECK(d.ids("Observation", "code:not=8480-6") == V{"o3", "o4"});
  CHECK(d.ids("Observation", "code:text=blood") == V{"o1"});     // word start
  CHECK(d.ids("Observation", "code:text=systolic") == V{"o1"});  // text start
  CHECK(d.ids("Observation", "code:text=lood").empty());
  CHECK(d.ids("Observation", "_id=o2,o4") == V{"o2", "o4"});
  CHECK(d.ids("Observation", "_id:not=o2") == V{"o1", "o3", "o4"});
  IndexRow id = tok("identifier", "http://hosp/mrn", "555");
  id.type_system = "http://terminology.hl7.org/CodeSystem/v2-0203";
  id.type_code = "MR";
  d.put("Patient", "p1", {id});
  d.put("Patient", "p2", {tok("identifier", "http://hosp/mrn", "555")});
  CHECK(d.ids("Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|555") == V{"p1"});
  CHECK(d.ids("Patient", "identifier=http://hosp/mrn|555") == V{"p1", "p2"});
}

// :in/:above/:below match the code set the interaction layer resolved (set here by hand): one
// system for every pair is written as `code IN codes AND system=S`, mixed systems as pairs; both
// must give the same matches, also driving other criteria, with deletes, duplicates and paging.
TEST_CASE("token code sets: one system and mixed systems, driving, totals and paging", "[search]") {
  Db d("codeset");
  const std::string L = "http://loinc.org";
  d.put("Observation", "o1", {tok("code", L, "a")});
  d.put("Observation", "o2", {tok("code", L, "b"), tok("code", L, "a")});  // two matching codings: once
  d.put("Observation", "o3", {tok("code", "", "b")});                      // no system: by its code
  d.put("Observation", "o4", {tok("code", "http://other", "a")});          // other system: no
  d.put("Observation", "o5", {tok("code", L, "c")});                       // code not in the set
  d.put("Observation", "o6", {tok("code", L, "a"), ref("subject", "Patient", "p1")});
  d.put("Observation", "o7", {tok("code", L, "b")});
  d.put("Observation", "o8", {tok("code", "http://other", "z")});
  d.del("Observation", "o7");
  d.put("Patient", "x1", {tok("gender", L, "a")});  // another type's row with the same code
  auto with_set = [&](const std::string& qs, const std::string& set) {
    fhir::SearchQuery q = d.query("Observation", qs);
    for (auto& cr : q.criteria)
      if (cr.modifier == fhir::Modifier::below || cr.modifier == fhir::Modifier::in ||
          cr.modifier == fhir::Modifier::not_in)
        for (auto& v : cr.values) v.code_set = set, v.code_set_resolved = true;
    return q;
  };
  auto ids = [&](const fhir::SearchQuery& q) {
    V out;
    for (auto& r : d.page(q).matches) out.push_back(r.id);
    return out;
  };
  const std::string one = "[[\"" + L + "\",\"a\"],[\"" + L + "\",\"b\"]]";
  const std::string mixed = "[[\"" + L + "\",\"a\"],[\"" + L + "\",\"b\"],[\"http://other\",\"z\"]]";
  CHECK(ids(with_set("code:below=" + L + "|G", one)) == V{"o1", "o2", "o3", "o6"});
  CHECK(ids(with_set("code:in=http://vs", one)) == V{"o1", "o2", "o3", "o6"});
  CHECK(ids(with_set("code:in=http://vs", mixed)) == V{"o1", "o2", "o3", "o6", "o8"});
  CHECK(ids(with_set("code:not-in=http://vs", one)) == V{"o4", "o5", "o8"});
  CHECK(ids(with_set("code:in=http://vs", "[]")).empty());
  CHECK(ids(with_set("code:in=http://vs", "[[\"\",\"b\"]]")) == V{"o3"});  // "" system: system-less rows only
  // driving another criterion, and driven by a reference
  CHECK(ids(with_set("code:below=" + L + "|G&subject=Patient/p1", one)) == V{"o6"});
  CHECK(ids(with_set("code:below=" + L + "|G&code=c", one)).empty());
  CHECK(ids(with_set("code:below=" + L + "|G&code:not=b", one)) == V{"o1", "o6"});
  // totals and pages: every match exactly once
  for (const std::string& set : {one, mixed}) {
    fhir::SearchQuery q = with_set("code:in=http://vs&_count=2", set);
    store::SearchPage p = d.page(q);
    const size_t total = set == one ? 4 : 5;
    CHECK(p.total == int64_t(total));
    V seen;
    for (int guard = 0; guard < 10; ++guard) {
      for (auto& r : p.matches) seen.push_back(r.id);
      if (p.next_cursor.empty()) break;
      q.cursor = p.next_cursor;
      p = d.page(q);
    }
    CHECK(seen.size() == total);
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == total);
    Result<int64_t> n = Status();
    d.db->read([&](store::Conn& c) {
      n = store::count_search(c, with_set("code:in=http://vs", set));
      return n.status();
    });
    REQUIRE(n.ok());
    CHECK(*n == int64_t(total));
  }
}

TEST_CASE("date search: prefixes against precision ranges", "[search]") {
  Db d("date");
  d.put("Patient", "day", {date("birthdate", "1970-01-01")});
  d.put("Patient", "month", {date("birthdate", "1970-06")});
  d.put("Patient", "later", {date("birthdate", "1971-03-04")});
  d.put("Patient", "none", {});
  CHECK(d.ids("Patient", "birthdate=1970") == V{"day", "month"});
  CHECK(d.ids("Patient", "birthdate=1970-01") == V{"day"});
  CHECK(d.ids("Patient", "birthdate=1970-06-15").empty());  // the month is wider than the day asked
  CHECK(d.ids("Patient", "birthdate=ne1970") == V{"later"});
  CHECK(d.ids("Patient", "birthdate=gt1970") == V{"later"});
  CHECK(d.ids("Patient", "birthdate=lt1971") == V{"day", "month"});
  CHECK(d.ids("Patient", "birthdate=ge1970-06") == V{"later", "month"});
  CHECK(d.ids("Patient", "birthdate=le1970-06") == V{"day", "month"});
  CHECK(d.ids("Patient", "birthdate=sa1970") == V{"later"});
  CHECK(d.ids("Patient", "birthdate=eb1971") == V{"day", "month"});
  // gt: the target range reaches beyond the value (the day 1970-01-01 does)
  CHECK(d.ids("Patient", "birthdate=gt1970-01-01T12:00:00Z") == V{"day", "later", "month"});
  CHECK(d.ids("Patient", "birthdate=gt1970-01-01T23:59:59Z") == V{"later", "month"});
  CHECK(d.ids("Patient", "birthdate=ge1970-01-01&birthdate=lt1970-02") == V{"day"});
  CHECK(d.ids("Patient", "birthdate=1970-01-01,1971") == V{"day", "later"});
  // an open-ended period
  IndexRow open = row("date", ParamType::date);
  open.lo_ms = ms("2020-01-01");
  open.hi_ms = fhir::kDateMax;
  d.put("Encounter", "open", {open});
  d.put("Encounter", "closed", {date("date", "2020-05-05")});
  CHECK(d.ids("Encounter", "date=gt2030") == V{"open"});
  CHECK(d.ids("Encounter", "date=lt2020-02") == V{"open"});
  CHECK(d.ids("Encounter", "date=2020").empty() == false);
  CHECK(d.ids("Encounter", "date=2020") == V{"closed"});
  // _lastUpdated from the resource table
  d.now = ms("2025-06-01T10:00:00Z");
  d.put("Patient", "fresh", {});
  CHECK(d.ids("Patient", "_lastUpdated=ge2025-06-01") == V{"fresh"});
  CHECK(d.ids("Patient", "_lastUpdated=2025-06-01T10:00:00Z") == V{"fresh"});
  CHECK(d.ids("Patient", "_lastUpdated=lt2025").size() == 4);
}

TEST_CASE("number and quantity search: precision and units", "[search]") {
  Db d("number");
  d.put("Observation", "a", {qty("value-quantity", 100, 0.5, "http://unitsofmeasure.org", "mg")});
  d.put("Observation", "b", {qty("value-quantity", 100.4, 0.05, "http://unitsofmeasure.org", "mg")});
  d.put("Observation", "c", {qty("value-quantity", 101, 0.5, "http://unitsofmeasure.org", "g")});
  d.put("Observation", "d", {qty("value-quantity", 99.4, 0.05, "", "mg")});
  CHECK(d.ids("Observation", "value-quantity=100") == V{"a", "b"});
  CHECK(d.ids("Observation", "value-quantity=100.0") == V{"a"});
  CHECK(d.ids("Observation", "value-quantity=gt100") == V{"b", "c"});
  CHECK(d.ids("Observation", "value-quantity=ge100") == V{"a", "b", "c"});
  CHECK(d.ids("Observation", "value-quantity=lt100") == V{"d"});
  CHECK(d.ids("Observation", "value-quantity=le100.4") == V{"a", "b", "d"});
  CHECK(d.ids("Observation", "value-quantity=ne100") == V{"c", "d"});
  CHECK(d.ids("Observation", "value-quantity=ap100") == V{"a", "b", "c", "d"});
  CHECK(d.ids("Observation", "value-quantity=ap110") == V{"a", "b", "c", "d"});  // [99, 121]
  CHECK(d.ids("Observation", "value-quantity=ap112") == V{"c"});                 // [100.8, 123.2]
  CHECK(d.ids("Observation", "value-quantity=100|http://unitsofmeasure.org|mg") == V{"a", "b"});
  CHECK(d.ids("Observation", "value-quantity=gt99||mg") == V{"a", "b", "d"});
  CHECK(d.ids("Observation", "value-quantity=101|http://unitsofmeasure.org|mg").empty());
}

TEST_CASE("reference search: Type/id, id, URL, :identifier, :missing", "[search]") {
  Db d("reference");
  d.put("Observation", "o1", {ref("subject", "Patient", "p1"), ref("patient", "Patient", "p1")});
  d.put("Observation", "o2", {ref("subject", "Group", "p1")});
  d.put("Observation", "o3", {ref("subject", "Patient", "p9", "http://other/fhir/Patient/p9")});
  IndexRow ident = row("subject", ParamType::reference);
  ident.system = "http://hosp/mrn";
  ident.code = "42";
  d.put("Observation", "o4", {ident});
  d.put("Observation", "o5", {});
  CHECK(d.ids("Observation", "subject=Patient/p1") == V{"o1"});
  CHECK(d.ids("Observation", "subject=p1") == V{"o1", "o2"});
  CHECK(d.ids("Observation", "subject:Group=p1") == V{"o2"});
  CHECK(d.ids("Observation", "subject=http://base/Patient/p1") == V{"o1"});
  CHECK(d.ids("Observation", "subject=http://other/fhir/Patient/p9") == V{"o3"});
  CHECK(d.ids("Observation", "subject=Patient/p1/_history/3") == V{"o1"});
  CHECK(d.ids("Observation", "subject:identifier=http://hosp/mrn|42") == V{"o4"});
  CHECK(d.ids("Observation", "subject:missing=true") == V{"o5"});
  CHECK(d.ids("Observation", "patient=p1") == V{"o1"});
}

TEST_CASE("composite search: components must come from the same group", "[search]") {
  Db d("composite");
  // o1: systolic 120 and diastolic 80 as components (groups 1 and 2)
  IndexRow s = tok("component-code-value-quantity$0", "http://loinc.org", "8480-6");
  s.group = 1;
  IndexRow di = tok("component-code-value-quantity$0", "http://loinc.org", "8462-4");
  di.group = 2;
  d.put("Observation", "o1", {s, qty("component-code-value-quantity$1", 120, 0.5, "", "", 1), di,
                              qty("component-code-value-quantity$1", 80, 0.5, "", "", 2)});
  IndexRow s2 = s;
  d.put("Observation", "o2", {s2, qty("component-code-value-quantity$1", 95, 0.5, "", "", 1)});
  CHECK(d.ids("Observation", "component-code-value-quantity=http://loinc.org|8480-6$gt100") == V{"o1"});
  CHECK(d.ids("Observation", "component-code-value-quantity=http://loinc.org|8480-6$lt100") == V{"o2"});
  // 80 belongs to the diastolic group: no systolic below 90 in o1
  CHECK(d.ids("Observation", "component-code-value-quantity=http://loinc.org|8480-6$lt90").empty());
  CHECK(d.ids("Observation", "component-code-value-quantity=8462-4$80") == V{"o1"});
  CHECK(d.ids("Observation", "component-code-value-quantity=8480-6$lt90,8462-4$lt90") == V{"o1"});
}

TEST_CASE("chained and reverse-chained search", "[search]") {
  Db d("chain");
  d.put("Organization", "org1", {str("name", "General Hospital", "general hospital")});
  d.put("Organization", "org2", {str("name", "Clinic", "clinic")});
  d.put("Patient", "p1", {str("name", "Peter", "peter"), ref("organization", "Organization", "org1")});
  d.put("Patient", "p2", {str("name", "Paula", "paula"), ref("organization", "Organization", "org2")});
  d.put("Group", "g1", {str("name", "Peter's group", "peter's group")});  // Group has no 'name'... see below
  d.put("Observation", "o1", {ref("subject", "Patient", "p1"), ref("patient", "Patient", "p1"), tok("code", "", "A")});
  d.put("Observation", "o2", {ref("subject", "Patient", "p2"), ref("patient", "Patient", "p2"), tok("code", "", "B")});
  d.put("Observation", "o3", {ref("subject", "Patient", "p1"), ref("patient", "Patient", "p1"), tok("code", "", "B")});
  CHECK(d.ids("Observation", "subject:Patient.name=pet") == V{"o1", "o3"});
  CHECK(d.ids("Observation", "subject.name=paula") == V{"o2"});
  CHECK(d.ids("Observation", "subject:Patient.organization.name=general") == V{"o1", "o3"});
  CHECK(d.ids("Observation", "subject:Patient.organization.name=clinic&code=B") == V{"o2"});
  CHECK(d.ids("Patient", "_has:Observation:patient:code=B") == V{"p1", "p2"});
  CHECK(d.ids("Patient", "_has:Observation:patient:code=A") == V{"p1"});
  CHECK(d.ids("Patient", "_has:Observation:patient:code=A&name=paula").empty());
  // a deleted referrer no longer counts; a deleted target no longer matches a chain
  d.del("Observation", "o1");
  CHECK(d.ids("Patient", "_has:Observation:patient:code=A").empty());
  d.del("Patient", "p2");
  CHECK(d.ids("Observation", "subject:Patient.name=paula").empty());
  CHECK(d.ids("Observation", "").size() == 2);
}

TEST_CASE("sorting and keyset paging: every match exactly once, also while inserting", "[search]") {
  Db d("paging");
  // birthdates out of insertion order, two equal, one missing
  const char* dates[] = {"1980", "1975-05", "1990-01-01", "1975-05", nullptr, "1960"};
  for (int i = 0; i < 6; ++i) {
    IndexRows rows = {str("family", "F" + std::to_string(i), "f" + std::to_string(5 - i))};
    if (dates[i]) rows.push_back(date("birthdate", dates[i]));
    d.put("Patient", "p" + std::to_string(i), rows);
  }
  CHECK(d.ids("Patient", "_sort=birthdate") == V{"p5", "p1", "p3", "p0", "p2", "p4"});
  CHECK(d.ids("Patient", "_sort=-birthdate") == V{"p2", "p0", "p1", "p3", "p5", "p4"});
  CHECK(d.ids("Patient", "_sort=family") == V{"p5", "p4", "p3", "p2", "p1", "p0"});
  CHECK(d.ids("Patient", "_sort=-_id") == V{"p5", "p4", "p3", "p2", "p1", "p0"});
  CHECK(d.ids("Patient", "_sort=birthdate,family") == V{"p5", "p3", "p1", "p0", "p2", "p4"});
  CHECK(d.ids("Patient", "_sort=birthdate,-family") == V{"p5", "p1", "p3", "p0", "p2", "p4"});

  for (const char* qs : {"_count=2", "_count=2&_sort=birthdate", "_count=4&_sort=-birthdate,family", "_count=1&_sort=-_lastUpdated"}) {
    INFO(qs);
    fhir::SearchQuery q = d.query("Patient", qs);
    std::vector<std::string> seen;
    std::vector<std::string> cursors;
    int pages = 0;
    bool inserted = false;
    while (true) {
      store::SearchPage p = d.page(q);
      CHECK(p.total == int64_t(6 + (inserted ? 1 : 0)));
      for (auto& r : p.matches) seen.push_back(r.id);
      if (pages == 0) CHECK(p.prev_cursor.empty());
      else CHECK_FALSE(p.prev_cursor.empty());
      if (!inserted) {  // a new resource during paging must not disturb the rest
        d.put("Patient", std::string("new") + qs, {str("family", "Z", "z"), date("birthdate", "2000")});
        inserted = true;
      }
      ++pages;
      if (p.next_cursor.empty()) break;
      cursors.push_back(p.next_cursor);
      q.cursor = p.next_cursor;
      REQUIRE(pages < 20);
    }
    std::set<std::string> uniq(seen.begin(), seen.end());
    CHECK(uniq.size() == seen.size());
    for (int i = 0; i < 6; ++i) CHECK(uniq.count("p" + std::to_string(i)) == 1);
    d.del("Patient", std::string("new") + qs);
  }

  // previous: from page 3 back to page 2
  fhir::SearchQuery q = d.query("Patient", "_count=2&_sort=birthdate");
  store::SearchPage p1 = d.page(q);
  q.cursor = p1.next_cursor;
  store::SearchPage p2 = d.page(q);
  q.cursor = p2.next_cursor;
  store::SearchPage p3 = d.page(q);
  q.cursor = p3.prev_cursor;
  store::SearchPage back = d.page(q);
  REQUIRE(back.matches.size() == 2);
  CHECK(back.matches[0].id == p2.matches[0].id);
  CHECK(back.matches[1].id == p2.matches[1].id);
  q.cursor = back.prev_cursor;
  store::SearchPage first = d.page(q);
  REQUIRE(first.matches.size() == 2);
  CHECK(first.matches[0].id == p1.matches[0].id);
  CHECK(first.prev_cursor.empty());
  // a token from another sort is refused
  fhir::SearchQuery other = d.query("Patient", "_count=2&_sort=family,_id");
  other.cursor = p1.next_cursor;
  Status st = d.db->read([&](store::Conn& c) { return store::run_search(c, other).status(); });
  CHECK(st.code == Err::invalid);
  other.cursor = "garbage";
  st = d.db->read([&](store::Conn& c) { return store::run_search(c, other).status(); });
  CHECK(st.code == Err::invalid);
}

TEST_CASE("_include, _revinclude (:iterate) and compartments", "[search]") {
  Db d("include");
  d.put("Organization", "org", {});
  d.put("Practitioner", "dr", {});
  d.put("Patient", "p1", {ref("organization", "Organization", "org")});
  d.put("Patient", "p2", {});
  d.put("Encounter", "e1", {ref("subject", "Patient", "p1"), ref("patient", "Patient", "p1"),
                            ref("practitioner", "Practitioner", "dr")});
  d.put("Observation", "o1", {ref("subject", "Patient", "p1"), ref("patient", "Patient", "p1"),
                              ref("encounter", "Encounter", "e1")});
  d.put("Observation", "o2", {ref("subject", "Patient", "p2"), ref("patient", "Patient", "p2")});
  d.put("Provenance", "prov", {ref("target", "Observation", "o1"), ref("patient", "Patient", "p1")});

  auto inc = [&](const std::string& type, const std::string& qs) {
    store::SearchPage p = d.page(d.query(type, qs));
    std::vector<std::string> out;
    for (auto& r : p.included) out.push_back(r.type + "/" + r.id);
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(inc("Observation", "_include=Observation:subject") == V{"Patient/p1", "Patient/p2"});
  CHECK(inc("Observation", "_id=o1&_include=Observation:encounter") == V{"Encounter/e1"});
  CHECK(inc("Observation", "_id=o1&_include=*") == V{"Encounter/e1", "Patient/p1"});
  CHECK(inc("Observation", "_id=o1&_include=Observation:subject:Group").empty());
  CHECK(inc("Observation", "_id=o1&_include=Observation:encounter&_include:iterate=Encounter:practitioner") ==
        V{"Encounter/e1", "Practitioner/dr"});
  CHECK(inc("Observation", "_id=o1&_include=Observation:encounter&_include=Encounter:practitioner") == V{"Encounter/e1"});
  CHECK(inc("Patient", "_id=p1&_revinclude=Observation:subject") == V{"Observation/o1"});
  CHECK(inc("Patient", "_id=p1&_revinclude=Observation:subject&_revinclude:iterate=Provenance:target") ==
        V{"Observation/o1", "Provenance/prov"});
  CHECK(inc("Patient", "_revinclude=Encounter:patient&_include=Patient:organization") ==
        V{"Encounter/e1", "Organization/org"});
  // included resources never repeat a match
  CHECK(inc("Patient", "_include=Patient:link") == V{});

  // compartment search and the authorization restriction
  fhir::SearchQuery q = d.query("Observation", "_include=Observation:subject");
  q.compartment_patient = "p1";
  store::SearchPage p = d.page(q);
  REQUIRE(p.matches.size() == 1);
  CHECK(p.matches[0].id == "o1");
  fhir::SearchQuery all = d.query("", "");
  all.types = {"Patient", "Observation", "Encounter", "Provenance", "Organization"};
  all.compartment_patient = "p1";
  V ids;
  for (auto& r : d.page(all).matches) ids.push_back(r.type + "/" + r.id);
  std::sort(ids.begin(), ids.end());
  CHECK(ids == V{"Encounter/e1", "Observation/o1", "Patient/p1", "Provenance/prov"});
  // the caller's view limits the included resources too
  PatientView v1("p1"), v2("p2");
  fhir::SearchQuery r = d.query("Encounter", "_include=Encounter:subject&_include=Encounter:practitioner");
  store::SearchPage rp = d.page(r, &v1);
  REQUIRE(rp.matches.size() == 1);
  REQUIRE(rp.included.size() == 1);  // Patient/p1, not the Practitioner (outside the compartment)
  CHECK(rp.included[0].id == "p1");
  fhir::SearchQuery r2 = d.query("Observation", "");
  store::SearchPage rp2 = d.page(r2, &v2);
  REQUIRE(rp2.matches.size() == 1);
  CHECK(rp2.matches[0].id == "o2");
  // bodies are the stored JSON
  CHECK(rp2.matches[0].body.find("\"id\":\"o2\"") != std::string::npos);
}

TEST_CASE("totals, _total=none, count_search and resolve_matches", "[search]") {
  Db d("total");
  for (int i = 0; i < 7; ++i) d.put("Patient", "p" + std::to_string(i), {tok("gender", "", i % 2 ? "male" : "female")});
  fhir::SearchQuery q = d.query("Patient", "gender=female&_count=2");
  store::SearchPage p = d.page(q);
  CHECK(p.total == 4);
  CHECK(p.matches.size() == 2);
  q = d.query("Patient", "gender=female&_count=2&_total=none");
  CHECK(d.page(q).total == -1);
  Result<int64_t> n = Status();
  d.db->read([&](store::Conn& c) {
    n = store::count_search(c, d.query("Patient", "gender=male"));
    return n.status();
  });
  REQUIRE(n.ok());
  CHECK(*n == 3);
  d.del("Patient", "p1");
  Result<std::vector<std::pair<std::string, std::string>>> m = Status();
  d.db->read([&](store::Conn& c) {
    m = store::resolve_matches(c, "Patient", "gender=male", 10);
    return m.status();
  });
  REQUIRE(m.ok());
  REQUIRE(m->size() == 2);
  CHECK((*m)[0] == std::make_pair(std::string("Patient"), std::string("p3")));
  d.db->read([&](store::Conn& c) {
    m = store::resolve_matches(c, "Patient", "gender=male", 1);
    return m.status();
  });
  CHECK(m->size() == 1);
  d.db->read([&](store::Conn& c) {
    m = store::resolve_matches(c, "Patient", "bogus=1", 10);
    return Status();
  });
  CHECK_FALSE(m.ok());  // conditional operations are strict
}

TEST_CASE("the caller's view applies to matches, totals, chains, _has, includes and conditional matches", "[search][authz]") {
  Db d("view");
  d.put("Patient", "pa", {str("family", "Alpha", "alpha")});
  d.put("Patient", "pb", {str("family", "Beta", "beta")});
  d.put("Observation", "oa-lab", {ref("subject", "Patient", "pa"), ref("patient", "Patient", "pa"),
                                  tok("category", "cat", "laboratory"), tok("code", "loinc", "1")});
  d.put("Observation", "oa-vit", {ref("subject", "Patient", "pa"), ref("patient", "Patient", "pa"),
                                  tok("category", "cat", "vital-signs"), tok("code", "loinc", "2")});
  d.put("Observation", "ob-vit", {ref("subject", "Patient", "pb"), ref("patient", "Patient", "pb"),
                                  tok("category", "cat", "vital-signs"), tok("code", "loinc", "3")});
  d.put("Organization", "org", {});
  using V = std::vector<std::string>;
  auto ids = [](const std::vector<store::SearchRow>& rows) {
    V out;
    for (const auto& r : rows) out.push_back(r.type + "/" + r.id);
    std::sort(out.begin(), out.end());
    return out;
  };
  PatientView a("pa");
  // matches and totals
  store::SearchPage p = d.page(d.query("Observation", ""), &a);
  CHECK(ids(p.matches) == V{"Observation/oa-lab", "Observation/oa-vit"});
  CHECK(p.total == 2);
  // a chain only looks at visible targets; _has only counts visible referrers
  CHECK(d.page(d.query("Observation", "subject:Patient.family=Beta"), &a).matches.empty());
  CHECK(d.page(d.query("Observation", "subject:Patient.family=Beta")).matches.size() == 1);
  CHECK(d.page(d.query("Patient", "_has:Observation:subject:code=3")).matches.size() == 1);
  CHECK(d.page(d.query("Patient", "_has:Observation:subject:code=3"), &a).matches.empty());
  // the shared Organization is outside a patient compartment view
  CHECK(d.page(d.query("Organization", ""), &a).matches.empty());
  // system search
  fhir::SearchQuery all = d.query("", "");
  CHECK(ids(d.page(all, &a).matches) == V{"Observation/oa-lab", "Observation/oa-vit", "Patient/pa"});
  // a ?param constraint (patient/Observation.rs?category=laboratory) applies to matches and includes
  PatientView lab("pa");
  lab.constrained_type = "Observation";
  lab.criteria = d.query("Observation", "category=laboratory").criteria;
  CHECK(ids(d.page(d.query("Observation", ""), &lab).matches) == V{"Observation/oa-lab"});
  store::SearchPage rev = d.page(d.query("Patient", "_revinclude=Observation:subject"), &lab);
  CHECK(ids(rev.matches) == V{"Patient/pa"});
  CHECK(ids(rev.included) == V{"Observation/oa-lab"});
  CHECK(d.page(d.query("Patient", "_has:Observation:subject:category=vital-signs"), &lab).matches.empty());
  // count_search, resolve_matches and visible() see the same view
  Status st = d.db->read([&](store::Conn& c) -> Status {
    auto n = store::count_search(c, d.query("Observation", "category=vital-signs"), &a);
    REQUIRE(n.ok());
    CHECK(*n == 1);
    auto m = store::resolve_matches(c, "Observation", "code=3", 2, "", &a);
    REQUIRE(m.ok());
    CHECK(m->empty());
    m = store::resolve_matches(c, "Observation", "code=3", 2, "", nullptr);
    REQUIRE(m.ok());
    CHECK(m->size() == 1);
    CHECK(*store::visible(c, "Observation", "oa-vit", &a));
    CHECK_FALSE(*store::visible(c, "Observation", "ob-vit", &a));
    CHECK_FALSE(*store::visible(c, "Observation", "oa-vit", &lab));
    CHECK(*store::visible(c, "Observation", "ob-vit", nullptr));
    CHECK_FALSE(*store::visible(c, "Observation", "nope", nullptr));
    return Status();
  });
  CHECK(st.ok());
}

TEST_CASE("a single selective criterion (matches collected from the index) pages and counts as the general path",
          "[search][authz]") {
  // run_search / count_search take the collected path for a search with one positive token,
  // reference, string or uri criterion and no _sort; with a second criterion that every
  // resource meets (_lastUpdated=gt2000) the same search takes the general statements.  Both
  // must give the same pages, links and totals as the matches computed here, also after
  // updates, deletes and a re-creation, with stale index rows in the table, inside a patient
  // compartment view and a compartment search.
  Db d("collected");
  const std::string L = "http://loinc.org";
  const char* codes[] = {"a", "b", "c", "d", "e"};
  struct Obs {
    std::string code, system, patient;
    bool second = false;  // a second coding with code "a" (one match, not two)
    bool live = true;
  };
  std::map<std::string, Obs> model;  // id -> state; ids sort as they were created (rid order)
  auto write = [&](const std::string& id, const Obs& o) {
    IndexRows rows = {tok("code", o.system, o.code), ref("subject", "Patient", o.patient),
                      ref("patient", "Patient", o.patient), str("_id", id, id)};
    if (o.second) rows.push_back(tok("code", L, "a"));
    d.put("Observation", id, rows);
    model[id] = o;
    model[id].live = true;
  };
  d.put("Patient", "pa", {});
  d.put("Patient", "pb", {});
  for (int i = 0; i < 120; ++i) {
    char id[8];
    snprintf(id, sizeof id, "o%03d", i);
    Obs o;
    o.code = codes[(i * 7) % 5];
    o.system = i % 11 == 0 ? "" : i % 13 == 0 ? "http://other" : L;
    o.patient = i % 5 ? "pb" : "pa";  // pa sparse: a page in its view needs several chunks of candidates
    o.second = i % 17 == 0;
    write(id, o);
  }
  // updates (code changes), deletes, one re-created after its delete
  for (int i = 0; i < 120; i += 9) {
    char id[8];
    snprintf(id, sizeof id, "o%03d", i);
    Obs o = model[id];
    o.code = o.code == "a" ? "e" : "a";
    write(id, o);
  }
  for (int i = 4; i < 120; i += 10) {
    char id[8];
    snprintf(id, sizeof id, "o%03d", i);
    d.del("Observation", id);
    model[id].live = false;
  }
  write("o014", model["o014"]);  // deleted above, back again (same rid)
  // stale rows: one for a deleted resource, one for no resource (an older binary, a manual edit)
  REQUIRE(d.db->write([&](store::Conn& c) {
                return c.exec("INSERT INTO idx_token(rid, pid, n, system, code) SELECT r.rid, sp.pid, 1000000, '" + L +
                              "', 'a' FROM resource r, search_param sp WHERE r.type='Observation' AND r.id='o024' AND "
                              "sp.type='Observation' AND sp.code='code';"
                              "INSERT INTO idx_token(rid, pid, n, system, code) SELECT 987654321, pid, 0, '" + L +
                              "', 'a' FROM search_param WHERE type='Observation' AND code='code'");
              }).ok());

  auto expected = [&](const std::function<bool(const Obs&)>& match, const std::string& patient) {
    V out;
    for (const auto& [id, o] : model)
      if (o.live && match(o) && (patient.empty() || o.patient == patient)) out.push_back(id);
    return out;
  };
  const std::string ab = "[[\"" + L + "\",\"a\"],[\"" + L + "\",\"b\"]]";
  struct Case {
    std::string qs, set;  // set: the resolved code set of a :in criterion
    std::function<bool(const Obs&)> match;
  };
  auto is_ab = [&](const Obs& o) {
    return ((o.code == "a" || o.code == "b") && (o.system == L || o.system.empty())) || o.second;
  };
  std::vector<Case> cases = {
      {"code:in=http://vs", ab, is_ab},
      {"code=" + L + "|a," + L + "|b", "",
       [&](const Obs& o) { return ((o.code == "a" || o.code == "b") && o.system == L) || o.second; }},
      {"code=c", "", [](const Obs& o) { return o.code == "c"; }},
      {"code=a,c", "", [](const Obs& o) { return o.code == "a" || o.code == "c" || o.second; }},
      {"code=" + L + "|a,http://other|c", "",
       [&](const Obs& o) { return (o.code == "a" && o.system == L) || (o.code == "c" && o.system == "http://other") || o.second; }},
      {"code:not=" + L + "|a," + L + "|c", "",  // negated: always the general path
       [&](const Obs& o) { return !(((o.code == "a" || o.code == "c") && o.system == L) || o.second); }},
      {"code=" + L + "|", "", [&](const Obs& o) { return o.system == L || o.second; }},
      {"subject=Patient/pb", "", [](const Obs& o) { return o.patient == "pb"; }},
      {"code=nothing", "", [](const Obs&) { return false; }},
  };
  PatientView view_a("pa");
  for (const Case& k : cases) {
    for (int mode = 0; mode < 3; ++mode) {  // 0: no view, 1: pa's compartment view, 2: compartment search
      const std::string patient = mode ? "pa" : "";
      const store::View* view = mode == 1 ? &view_a : nullptr;
      const V want = expected(k.match, patient);
      for (const char* extra : {"", "&_lastUpdated=gt2000"}) {
        // (want.size() - 1: the last page has one match, often read with the candidates' rows)
        for (int count : {1, 7, int(want.size()) - 1, 1000}) {
          if (count < 1) continue;
          INFO(k.qs << extra << " _count=" << count << " mode " << mode);
          fhir::SearchQuery q = d.query("Observation", k.qs + extra + "&_count=" + std::to_string(count));
          for (auto& cr : q.criteria)
            if (cr.modifier == fhir::Modifier::in)
              for (auto& v : cr.values) v.code_set = k.set, v.code_set_resolved = true;
          if (mode == 2) q.compartment_patient = "pa";
          // forward through every page: each match once, in rid order, the total on every page
          // (or none: then only a page's worth of candidates is checked)
          for (fhir::Total total : {fhir::Total::accurate, fhir::Total::none}) {
            q.total = total;
            q.cursor.clear();
            V seen;
            std::vector<store::SearchPage> pages;
            for (int guard = 0; guard < 150; ++guard) {
              pages.push_back(d.page(q, view));
              const store::SearchPage& p = pages.back();
              CHECK(p.total == (total == fhir::Total::none ? -1 : int64_t(want.size())));
              CHECK(p.prev_cursor.empty() == (guard == 0));
              for (auto& r : p.matches) seen.push_back(r.id);
              if (p.next_cursor.empty()) break;
              q.cursor = p.next_cursor;
            }
            CHECK(seen == want);
            CHECK(pages.size() == std::max<size_t>(1, (want.size() + count - 1) / count));
            // backward from the last page: the same pages again
            for (size_t i = pages.size() - 1; i > 0; --i) {
              q.cursor = pages[i].prev_cursor;
              store::SearchPage p = d.page(q, view);
              V got, was;
              for (auto& r : p.matches) got.push_back(r.id);
              for (auto& r : pages[i - 1].matches) was.push_back(r.id);
              CHECK(got == was);
              CHECK(p.prev_cursor.empty() == (i == 1));
            }
          }
          // _count=0 and count_search
          q.cursor.clear();
          q.total = fhir::Total::accurate;
          q.count = 0;
          store::SearchPage zero = d.page(q, view);
          CHECK(zero.matches.empty());
          CHECK(zero.total == int64_t(want.size()));
          Result<int64_t> n = Status();
          d.db->read([&](store::Conn& c) {
            n = store::count_search(c, q, view);
            return n.status();
          });
          REQUIRE(n.ok());
          CHECK(*n == int64_t(want.size()));
        }
      }
    }
  }
}

// Migration 12 rebuilds the idx_* tables clustered by (rid, pid, n) without the rid index: a
// database written before it (schema 11: rowid tables) must answer every kind of search the
// same after the upgrade, and later writes (updates clear and rewrite rows, deletes) must work.
TEST_CASE("migration 12: searches over a schema-11 index give the same results after the upgrade", "[search][store]") {
  Db d("migrate12");
  IndexRow s = tok("component-code-value-quantity$0", "http://loinc.org", "8480-6");
  s.group = 1;
  IndexRow di = tok("component-code-value-quantity$0", "http://loinc.org", "8462-4");
  di.group = 2;
  IndexRow prof = row("_profile", ParamType::uri);
  prof.exact = "http://example.org/StructureDefinition/bp";
  d.put("Organization", "org1", {str("name", "General Hospital", "general hospital")});
  d.put("Patient", "p1", {str("family", "Ordóñez", "ordonez"), str("given", "Ana", "ana"), date("birthdate", "1975-05"),
                          tok("gender", "http://hl7.org/fhir/administrative-gender", "female"),
                          ref("organization", "Organization", "org1")});
  d.put("Patient", "p2", {str("family", "Ord", "ord"), date("birthdate", "1980"),
                          tok("gender", "http://hl7.org/fhir/administrative-gender", "male")});
  d.put("Patient", "p3", {str("family", "Smith", "smith"), date("birthdate", "1960-01-02")});
  d.put("Observation", "o1", {tok("code", "http://loinc.org", "85354-9", "blood pressure"), ref("subject", "Patient", "p1"),
                              ref("patient", "Patient", "p1"), s, qty("component-code-value-quantity$1", 120, 0.5, "", "", 1), di,
                              qty("component-code-value-quantity$1", 80, 0.5, "", "", 2), date("date", "2023-02-01"), prof});
  d.put("Observation", "o2", {tok("code", "http://loinc.org", "8310-5"), ref("subject", "Patient", "p2"),
                              ref("patient", "Patient", "p2"), qty("value-quantity", 37.2, 0.05, "http://unitsofmeasure.org", "Cel"),
                              date("date", "2023-03-01")});
  d.put("Observation", "o3", {tok("code", "http://loinc.org", "8310-5"), ref("subject", "Patient", "p1"),
                              ref("patient", "Patient", "p1"), qty("value-quantity", 39.0, 0.05, "http://unitsofmeasure.org", "Cel"),
                              date("date", "2023-01-01")});
  d.put("Observation", "o2", {tok("code", "http://loinc.org", "8310-5"), ref("subject", "Patient", "p2"),  // version 2
                              ref("patient", "Patient", "p2"), qty("value-quantity", 38.1, 0.05, "http://unitsofmeasure.org", "Cel"),
                              date("date", "2023-03-01")});
  d.put("Observation", "gone", {tok("code", "http://loinc.org", "8310-5"), ref("subject", "Patient", "p3")});
  d.del("Observation", "gone");

  const std::vector<std::pair<std::string, std::string>> searches = {
      {"Patient", "family=ord"}, {"Patient", "family:exact=Ord"}, {"Patient", "family:contains=mit"},
      {"Patient", "given:missing=true"}, {"Patient", "gender=female"}, {"Patient", "gender:not=male"},
      {"Patient", "birthdate=ge1975&birthdate=lt1981"}, {"Patient", "_sort=birthdate"}, {"Patient", "_sort=-family"},
      {"Patient", "organization.name=general"}, {"Patient", "_has:Observation:patient:code=8310-5"},
      {"Observation", "code=http://loinc.org|8310-5"}, {"Observation", "code:text=blood"},
      {"Observation", "value-quantity=gt38|http://unitsofmeasure.org|Cel"}, {"Observation", "value-quantity=lt38"},
      {"Observation", "component-code-value-quantity=http://loinc.org|8480-6$gt100"},
      {"Observation", "component-code-value-quantity=http://loinc.org|8480-6$lt90"},
      {"Observation", "subject=Patient/p1"}, {"Observation", "subject:Patient.family=ord&_sort=-date"},
      {"Observation", "_profile=http://example.org/StructureDefinition/bp"}, {"Observation", "_sort=date"},
      {"Observation", "date=lt2023-02-15&_sort=-date"}, {"Observation", ""}};
  auto run_all = [&] {
    std::vector<V> out;
    for (const auto& q : searches) out.push_back(d.ids(q.first, q.second));
    return out;
  };
  auto counts = [&] {
    std::vector<int64_t> n;
    for (const char* t : {"idx_string", "idx_token", "idx_date", "idx_number", "idx_reference", "idx_uri"}) {
      int64_t k = -1;
      REQUIRE(d.db->read([&](store::Conn& c) {
        auto& q = c.prepare(std::string("SELECT COUNT(*) FROM ") + t);
        if (q.step()) k = q.int64(0);
        q.reset();
        return Status();
      }).ok());
      n.push_back(k);
    }
    return n;
  };
  auto schema = [&](const char* sql) {
    std::vector<std::string> out;
    REQUIRE(d.db->read([&](store::Conn& c) {
      auto& q = c.prepare(sql);
      while (q.step()) out.push_back(std::string(q.text(0)));
      q.reset();
      return Status();
    }).ok());
    return out;
  };
  const char* kRidIndexes = "SELECT name FROM sqlite_master WHERE type='index' AND name LIKE 'idx\\_%\\_r' ESCAPE '\\'";
  const char* kClustered = "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'idx\\_%' ESCAPE '\\' "
                           "AND sql LIKE '%WITHOUT ROWID%'";

  std::vector<V> fresh = run_all();
  // the expected matches of a few, so that an index emptied on every side cannot pass
  CHECK(fresh[0] == V{"p1", "p2"});
  CHECK(fresh[7] == V{"p3", "p1", "p2"});
  CHECK(fresh[10] == V{"p1", "p2"});
  CHECK(fresh[13] == V{"o2", "o3"});
  CHECK(fresh[15] == V{"o1"});
  CHECK(fresh[16].empty());
  CHECK(fresh[18] == V{"o2", "o1", "o3"});
  CHECK(fresh[19] == V{"o1"});
  std::vector<int64_t> rows = counts();
  CHECK(schema(kClustered).size() == 6);
  CHECK(schema(kRidIndexes).empty());

  REQUIRE(d.db->write([](store::Conn& c) { return c.exec(testing::index_tables_as_schema11_sql()); }).ok());
  CHECK(schema(kClustered).empty());
  CHECK(schema(kRidIndexes).size() == 6);
  CHECK(run_all() == fresh);  // schema 11 answers as schema 12 did
  CHECK(counts() == rows);

  d.reopen();  // applies migration 12 again
  CHECK(d.db->schema_version() == 12);
  CHECK(schema(kClustered).size() == 6);
  CHECK(schema(kRidIndexes).empty());
  CHECK(counts() == rows);
  CHECK(run_all() == fresh);

  // writes after the upgrade: an update replaces a resource's rows, a delete removes them
  d.put("Patient", "p2", {str("family", "Jones", "jones"), date("birthdate", "1980")});
  d.del("Observation", "o3");
  CHECK(d.ids("Patient", "family=ord") == V{"p1"});
  CHECK(d.ids("Patient", "family=jones") == V{"p2"});
  CHECK(d.ids("Patient", "gender=male").empty());
  CHECK(d.ids("Observation", "value-quantity=gt38") == V{"o2"});
  CHECK(d.ids("Patient", "_has:Observation:patient:code=8310-5") == V{"p2"});
}

TEST_CASE("collected path: many candidates are checked by walking the type's index, sparse ones by probing",
          "[search]") {
  // store/search.cpp matches_by_walk: >= 256 candidates of one type with no view or compartment
  // are checked by walking the type's current rids; when the walk would read more than 4 rows
  // per candidate it gives up and the candidates are probed one by one.  Both must drop
  // deleted resources, stale index rows and other types' rows, and count and page as the
  // general statements do (the same search with _lastUpdated=gt2000 takes those).
  Db d("walk");
  const std::string L = "http://loinc.org";
  std::map<std::string, std::string> code_of;  // live Observations
  auto put = [&](const std::string& id, const std::string& code) {
    d.put("Observation", id, {tok("code", L, code)});
    code_of[id] = code;
  };
  for (int i = 0; i < 700; ++i) {  // dense: "a" every other, "b" the rest
    char id[8];
    snprintf(id, sizeof id, "d%04d", i);
    put(id, i % 2 ? "b" : "a");
  }
  d.put("Patient", "x", {tok("code", L, "a")});  // another type's row with the same value
  for (int i = 0; i < 3000; ++i) {  // sparse: 300 "s" among 2,700 "t"
    char id[8];
    snprintf(id, sizeof id, "s%04d", i);
    put(id, i % 10 ? "t" : "s");
  }
  for (int i = 0; i < 700; i += 50) {
    char id[8];
    snprintf(id, sizeof id, "d%04d", i);
    d.del("Observation", id);
    code_of.erase(id);
  }
  for (int i = 0; i < 3000; i += 170) {
    char id[8];
    snprintf(id, sizeof id, "s%04d", i);
    d.del("Observation", id);
    code_of.erase(id);
  }
  REQUIRE(d.db->write([&](store::Conn& c) {
                return c.exec("INSERT INTO idx_token(rid, pid, n, system, code) SELECT r.rid, sp.pid, 1000000, '" + L +
                              "', 'a' FROM resource r, search_param sp WHERE r.type='Observation' AND r.id='d0050' AND "
                              "sp.type='Observation' AND sp.code='code';"
                              "INSERT INTO idx_token(rid, pid, n, system, code) SELECT 987654321, pid, 0, '" + L +
                              "', 's' FROM search_param WHERE type='Observation' AND code='code'");
              }).ok());
  for (const std::string code : {"a", "s"}) {
    V want;
    for (const auto& [id, c] : code_of)
      if (c == code) want.push_back(id);
    REQUIRE(want.size() > 256);
    for (const char* extra : {"", "&_lastUpdated=gt2000"}) {
      INFO(code << extra);
      fhir::SearchQuery q = d.query("Observation", "code=" + L + "|" + code + extra + "&_count=100");
      V seen;
      for (int guard = 0; guard < 20; ++guard) {
        store::SearchPage p = d.page(q, nullptr);
        CHECK(p.total == int64_t(want.size()));
        for (auto& r : p.matches) seen.push_back(r.id);
        if (p.next_cursor.empty()) break;
        q.cursor = p.next_cursor;
      }
      CHECK(seen == want);
      q.cursor.clear();
      Result<int64_t> n = Status();
      d.db->read([&](store::Conn& c) {
        n = store::count_search(c, q, nullptr);
        return n.status();
      });
      REQUIRE(n.ok());
      CHECK(*n == int64_t(want.size()));
    }
  }
}
