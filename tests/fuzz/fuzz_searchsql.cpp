// tests/fuzz/fuzz_searchsql.cpp — the search SQL builder (store/search.h run_search) at the
// edges of the search budgets (fhir/search_query.h SearchBudget): OR lists and parameter
// counts near, at and past the limits, in the shapes that make the deepest SQL (prefixed
// dates and quantities, composites, chains, reverse chains, :not, sorts, includes), run on a
// temporary database built like the server's (ef::app::open_app) with a few resources in it.
// Input: bytes read as a program: byte 0 = searched type, then per parameter one shape byte,
// one count byte (values 0..255: counts near the per-parameter limit are the common case) and
// one value byte.
// Invariants: no crash/UB/exception; a query parse_search accepts runs to the end (SQLite
// never refuses its SQL: no "too complex" / Err::internal from run_search); a refused query
// names a limit or a parameter.
#include <unistd.h>

#include <cstdio>

#include "app/build.h"
#include "fhir/search_query.h"
#include "fuzz_util.h"
#include "store/search.h"
#include "util/json.h"

using namespace ef;

namespace {

struct World {
  std::unique_ptr<http::App> app;
  World() {
    std::string path = "/tmp/edgefhir-fuzz-searchsql-" + std::to_string(::getpid()) + ".db";
    for (const char* suf : {"", "-wal", "-shm"}) std::remove((path + suf).c_str());
    ServerConfig cfg;
    cfg.database = path;
    cfg.base_url = "http://edge.test/fhir";
    auto a = ef::app::open_app(cfg);
    FUZZ_CHECK(a.ok(), "cannot open the fuzz database");
    app = std::move(*a);
    const char* docs[] = {
        R"({"resourceType":"Patient","id":"p1","name":[{"family":"n1"}],"birthDate":"2000-01-01"})",
        R"({"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"c1"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2020-01-02","valueQuantity":{"value":5,"system":"http://unitsofmeasure.org","code":"mg"}})",
        R"({"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p1"}})"};
    for (const char* d : docs) {
      json::ParseOptions po;
      po.preserve_numbers = true;
      auto v = json::parse(d, po);
      FUZZ_CHECK(v.ok(), "seed resource");
      std::string type = json::string_or(*v, "resourceType"), id = json::string_or(*v, "id");
      service::WriteOptions wo;
      wo.method = "PUT";
      auto w = app->repo->update(type, id, std::move(*v), wo);
      FUZZ_CHECK(w.ok(), "seed write: " + w.status().message);
    }
  }
};

const char* kTypes[] = {"Observation", "Patient", "Encounter", ""};

// One value of the shape, varied by k and b.
std::string value(int shape, size_t k, uint8_t b) {
  std::string n = std::to_string(k) + std::to_string(b);
  switch (shape) {
    case 0: return "http://loinc.org|c" + n;
    case 1: return std::string(b & 1 ? "ge" : "le") + "2020-01-" + std::to_string(k % 28 + 10);
    case 2: return "ap" + n + "|http://unitsofmeasure.org|mg";
    case 3: return "n" + n;
    case 4: return "o" + n;
    case 5: return "ne2020-02-" + std::to_string(k % 28 + 10);
    case 6: return "http://loinc.org|c" + n + "$gt" + std::to_string(k);
    case 7: return "x" + n;
    default: return "v" + n;
  }
}

// The parameter name of a shape for a type (Observation names; other types use their own
// subset; unknown ones are simply ignored by lenient parsing).
const char* name(int shape, const std::string& type) {
  bool obs = type == "Observation";
  switch (shape) {
    case 0: return obs ? "code" : "identifier";
    case 1: return obs ? "date" : type == "Patient" ? "birthdate" : "date";
    case 2: return obs ? "value-quantity" : "_id";
    case 3: return obs ? "subject:Patient.link:Patient.name" : type == "Patient" ? "link:Patient.name"
                                                                                         : "subject:Patient.name";
    case 4: return "_id";
    case 5: return "_lastUpdated";
    case 6: return obs ? "code-value-quantity" : "_id";
    case 7: return obs ? "code:not" : type == "Patient" ? "_has:Observation:subject:code" : "status";
    default: return "_id";
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World w;
  if (size < 1) return 0;
  std::string type = kTypes[data[0] % 4];
  const fhir::SearchBudget& budget = fhir::search_budget();
  fhir::QueryParams params;
  for (size_t i = 1; i + 2 < size && params.size() < budget.max_search_params + 3; i += 3) {
    int shape = data[i] % 10;
    if (shape == 8) {
      params.emplace_back("_sort", data[i + 2] & 1 ? "-_lastUpdated" : "_id");
      continue;
    }
    if (shape == 9) {
      params.emplace_back(data[i + 2] & 1 ? "_revinclude" : "_include", "Observation:subject");
      continue;
    }
    // counts: mostly near the per-parameter limit
    size_t count = data[i + 1];
    if (count >= 128) count = budget.max_or_values - 8 + (count % 16);  // limit-8 .. limit+7
    if (count == 0) count = 1;
    std::string v;
    for (size_t k = 0; k < count; ++k) {
      if (k) v += ',';
      v += value(shape, k, data[i + 2]);
    }
    params.emplace_back(name(shape, type), v);
  }
  fhir::SearchParseOptions po;
  auto q = fhir::parse_search(type, params, po);
  if (!q) {
    FUZZ_CHECK(!q.status().message.empty(), "a refused search without a message");
    return 0;
  }
  q->count = 10;
  auto page = store::run_search(w.app->db->reader(), *q);
  if (!page) {
    const std::string& m = page.status().message;
    FUZZ_CHECK(m.find("too complex") == std::string::npos && m.find("too large") == std::string::npos &&
                   m.find("too many") == std::string::npos,
               "an accepted search hit a SQLite limit: " + m);
    FUZZ_CHECK(page.status().code != Err::internal, "an accepted search failed: " + m);
  }
  return 0;
}
