// service/everything.cpp — Patient/[id]/$everything and Patient/$everything
// (https://hl7.org/fhir/R4/patient-operation-everything.html), see service.h.
//
// The result: the patient and every current resource in its Patient compartment (matches),
// plus, on the page that references them, the supporting resources outside the compartment
// (includes, found like _include=*).  Paging: for one patient the search cursor of
// store/search.h; at type level "<patient cursor>.<inner cursor>": patients are walked in
// insertion order and each one's compartment fills the page, so a page may span patients.
// Authorization: the Patient must be readable by the caller (else it is not known), and
// every match and include is inside the caller's search view, so a patient-scoped token only
// ever gets its own patient.
#include <algorithm>

#include "fhir/search_params.h"
#include "service/service.h"
#include "store/search.h"

namespace ef::service {

namespace {

bool compartment_type(const std::string& t) {
  return t == "Patient" || !fhir::registry().compartment_params(t).empty();
}

Result<fhir::SearchQuery> patient_query(const Service::EverythingQuery& a, const std::string& patient, int count,
                                        const std::string& cursor) {
  fhir::QueryParams qp;
  if (a.since_ms >= 0) qp.emplace_back("_lastUpdated", "ge" + a.since_text);
  auto q = fhir::parse_search("", qp);
  if (!q) return q.status();
  q->types = a.match_types;
  q->compartment_patient = patient;
  q->count = count;
  q->cursor = cursor;
  q->total = fhir::Total::accurate;
  if (a.all_support || !a.support_types.empty()) {
    fhir::IncludeSpec inc;
    inc.source_type = "*";
    inc.code = "*";
    q->includes.push_back(inc);
  }
  return q;
}

bool split_cursor(const std::string& cur, std::string* pc, std::string* ic) {
  size_t dot = cur.find('.');
  if (dot == std::string::npos || cur.find('.', dot + 1) != std::string::npos) return false;
  *pc = cur.substr(0, dot);
  *ic = cur.substr(dot + 1);
  return true;
}

}  // namespace

Result<Service::EverythingPage> Service::everything(const Access& a, const EverythingQuery& q) {
  if (Status st = a.require(auth::Interaction::everything, "Patient", q.patient_id); !st) return st;
  store::SearchRunOptions ro;
  ro.view = a.view(auth::Interaction::search_type);
  ro.include_type_allowed = [&q](const std::string& t) {
    if (compartment_type(t)) return false;  // listed as matches (of this or another patient)
    return q.all_support || std::find(q.support_types.begin(), q.support_types.end(), t) != q.support_types.end();
  };
  EverythingPage out;
  Status st = db_.read([&](store::Conn& conn) -> Status {
    if (!q.patient_id.empty()) {
      auto p = read_current(conn, a, repo_, "Patient", q.patient_id);
      if (!p) return p.status();
    }
    if (q.match_types.empty()) {  // _type named only types outside the compartment
      out.total = 0;
      return Status();
    }
    if (!q.patient_id.empty()) {
      auto sq = patient_query(q, q.patient_id, q.count, q.cursor);
      if (!sq) return sq.status();
      auto pg = store::run_search(conn, *sq, ro);
      if (!pg) return pg.status();
      out.total = pg->total;
      out.next_cursor = pg->next_cursor;
      out.truncated = pg->includes_truncated;
      out.matches = std::move(pg->matches);
      out.included = std::move(pg->included);
      return Status();
    }
    // Type level: walk the patients the caller can see (one at a time, in insertion order).
    std::string pc, ic;
    if (!q.cursor.empty() && !split_cursor(q.cursor, &pc, &ic))
      return Status(Err::invalid, "_cursor: the paging token is not valid for this search (start again from the first page)",
                    "_cursor");
    int remaining = q.count;
    for (int guard = 0; guard < 100000; ++guard) {
      fhir::SearchQuery pq;
      pq.types = {"Patient"};
      pq.count = 1;
      pq.cursor = pc;
      pq.total = fhir::Total::none;
      store::SearchRunOptions pro;
      pro.bodies = false;
      pro.view = ro.view;
      auto pp = store::run_search(conn, pq, pro);
      if (!pp) return pp.status();
      if (pp->matches.empty()) return Status();
      const std::string& pid = pp->matches[0].id;
      auto sq = patient_query(q, pid, remaining, ic);
      if (!sq) return sq.status();
      sq->total = fhir::Total::none;
      auto pg = store::run_search(conn, *sq, ro);
      if (!pg) return pg.status();
      remaining -= int(pg->matches.size());
      out.truncated = out.truncated || pg->includes_truncated;
      for (auto& r : pg->matches) out.matches.push_back(std::move(r));
      for (auto& r : pg->included) out.included.push_back(std::move(r));
      if (!pg->next_cursor.empty()) {
        out.next_cursor = pc + "." + pg->next_cursor;
        return Status();
      }
      if (pp->next_cursor.empty()) return Status();  // last patient
      pc = pp->next_cursor;
      ic.clear();
      if (remaining <= 0) {
        out.next_cursor = pc + ".";
        return Status();
      }
    }
    return Status();
  });
  if (!st) return st;
  return out;
}

}  // namespace ef::service
