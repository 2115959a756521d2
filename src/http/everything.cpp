// http/everything.cpp — Patient/[id]/$everything and Patient/$everything
// (https://hl7.org/fhir/R4/patient-operation-everything.html).
//
// The result is a searchset Bundle: the patient and every current resource in its Patient
// compartment (search.mode = match, the compartment definition of fhir/search_params.h),
// plus, on the page that references them, the supporting resources outside the compartment
// (Practitioner, Organization, Location, Medication ...: search.mode = include, found through
// the reference search parameters like _include=*).
// Parameters: _since (lastUpdated >= instant), _type (comma list; compartment types filter
// the matches, other types the supporting resources), _count (page size, default 50, max
// 1000), _summary / _elements (each resource reduced as on read, http/conventions.h).  start/end (care dates) are not supported: ignored with a warning entry, or 400
// under Prefer: handling=strict.
// Paging: next links carry an opaque _cursor.  For one patient it is the search cursor of
// store/search.h; for Patient/$everything it is "<patient cursor>.<inner cursor>": the
// patients are walked in insertion order and each one's compartment fills the page, so a
// page may span several patients.  A resource in two patients' compartments (rare: a
// Group-like resource) is listed once per patient at type level.
// This file parses the request and formats the Bundle; the work and the caller's view are in
// the interaction layer (service/everything.cpp): a caller limited to one patient's
// compartment only ever sees that patient (another id is "not known").
#include <algorithm>

#include "fhir/outcome.h"
#include "fhir/search_params.h"
#include "fhir/search_query.h"
#include "http/conventions.h"
#include "http/operations.h"
#include "http/url.h"
#include "util/time.h"

namespace ef::http {

namespace {

struct EverythingArgs {
  service::Service::EverythingQuery q;  // what the interaction layer runs (patient_id set by the caller)
  fhir::QueryParams link_params;  // recognised parameters for links
  std::vector<fhir::Issue> warnings;
};

Result<EverythingArgs> parse_args(Ctx& c, const fhir::QueryParams& params) {
  EverythingArgs a;
  const auto& reg = fhir::registry();
  std::vector<std::string> types;
  bool have_types = false;
  for (const auto& kv : params) {
    const std::string& n = kv.first;
    const std::string& v = kv.second;
    if (n == "_since") {
      auto r = timefmt::parse_fhir_time(v);
      if (!r) return Status(Err::invalid, "_since: '" + v + "' is not a FHIR instant (e.g. 2024-01-01T00:00:00Z)", "_since");
      a.q.since_ms = r->lo_ms;
      a.q.since_text = v;
      a.link_params.emplace_back(n, v);
    } else if (n == "_type") {
      have_types = true;
      auto ts = type_list(v);
      if (!ts) return ts.status();
      types.insert(types.end(), ts->begin(), ts->end());
      a.link_params.emplace_back(n, v);
    } else if (n == "_count") {
      if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
        return Status(Err::invalid, "_count: '" + v + "' is not a whole number", "_count");
      a.q.count = std::min(std::stoi(v), 1000);
      if (a.q.count < 1) return Status(Err::invalid, "_count must be at least 1", "_count");
      a.link_params.emplace_back(n, std::to_string(a.q.count));
    } else if (n == "_cursor") {
      a.q.cursor = v;
    } else if (n == "_format" || n == "_pretty" || n == "_summary" || n == "_elements") {
      // handled by the server; _summary/_elements: parse_subset in handle_everything
    } else {
      std::string why = n == "start" || n == "end"
                            ? "care-date filtering (start/end) is not supported"
                            : "'" + n + "' is not a parameter of $everything (_since, _type, _count)";
      if (prefer_strict(c)) return Status(Err::invalid, why, n);
      fhir::Issue i;
      i.severity = "warning";
      i.code = "not-supported";
      i.diagnostics = why + "; the parameter was ignored";
      i.expression = n;
      a.warnings.push_back(i);
    }
  }
  if (have_types) {
    a.q.all_support = false;
    for (const auto& t : types) {
      if (patient_compartment_type(t)) {
        if (std::find(a.q.match_types.begin(), a.q.match_types.end(), t) == a.q.match_types.end()) a.q.match_types.push_back(t);
      } else {
        a.q.support_types.push_back(t);
      }
    }
  } else {
    for (const auto& t : reg.all_resource_types())
      if (patient_compartment_type(t)) a.q.match_types.push_back(t);
  }
  return a;
}

}  // namespace

void handle_everything(Ctx& c, const std::string& patient_id) {
  if (c.req.method != "GET" && c.req.method != "POST")
    return send_error(c, Status(Err::method_not_allowed, "$everything takes GET or POST"));
  auto params = operation_params(c);
  if (!params) return send_error(c, params.status());
  auto args = parse_args(c, *params);
  if (!args) return send_error(c, args.status());
  EverythingArgs& a = *args;
  auto subset = parse_subset(c);
  if (!subset) return send_error(c, subset.status());
  a.link_params.insert(a.link_params.end(), subset->link_params.begin(), subset->link_params.end());
  a.q.patient_id = patient_id;
  auto page = c.app.service->everything(*c.access, a.q);
  if (!page) return send_error(c, page.status());

  std::string path = c.app.base_url + "/Patient/" + (patient_id.empty() ? "" : patient_id + "/") + "$everything";
  std::vector<fhir::BundleEntry> entries;
  auto add_rows = [&](std::vector<store::SearchRow>& rows, const char* mode) {
    for (store::SearchRow& r : rows) {
      fhir::BundleEntry e;
      e.full_url = c.app.base_url + "/" + r.type + "/" + r.id;
      e.resource_json = std::move(r.body);
      subset->apply(e.resource_json);
      e.search_mode = mode;
      entries.push_back(std::move(e));
    }
  };
  add_rows(page->matches, "match");
  add_rows(page->included, "include");
  const std::string& next_cursor = page->next_cursor;
  const bool truncated = page->truncated;
  const int64_t total = page->total;

  std::vector<fhir::BundleLink> links = paging_links(path, a.link_params, a.q.cursor, "", next_cursor);
  if (truncated) {
    fhir::Issue i;
    i.severity = "warning";
    i.code = "too-costly";
    i.diagnostics = "more than " + std::to_string(store::kMaxIncludes) +
                    " supporting resources on this page; the rest were left out (use a smaller _count)";
    a.warnings.push_back(i);
  }
  if (!a.warnings.empty()) {
    fhir::BundleEntry e;
    e.resource_json = json::write(fhir::operation_outcome(a.warnings));
    e.search_mode = "outcome";
    entries.push_back(std::move(e));
  }
  send_json(c, 200, fhir::write_bundle("searchset", total, links, entries, c.app.clock->now_ms(), false));
}

}  // namespace ef::http
