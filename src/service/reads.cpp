// service/reads.cpp — see reads.h.
#include "service/reads.h"

#include <algorithm>
#include <optional>

#include "fhir/resource.h"
#include "service/terminology.h"
#include "util/time.h"

namespace ef::service {

using auth::Interaction;

Status not_known(const std::string& type, const std::string& id) {
  return Status(Err::not_found, type + "/" + id + " is not known");
}

static Status no_version(const std::string& type, const std::string& id, int64_t v) {
  return Status(Err::not_found, type + "/" + id + " has no version " + std::to_string(v));
}

// Whether a stored version's content is permitted (a deletion: the content it deleted).
static Result<bool> version_permitted(store::Conn& c, const Access& a, Interaction i, Repository& repo,
                                      const store::Version& v) {
  const store::Version* content = &v;
  store::Version prev;
  if (v.is_delete()) {
    // The content a deletion removed: the newest earlier version that is not a deletion.
    bool found = false;
    for (int64_t n = v.version - 1; n >= 1 && !found; --n) {
      auto x = repo.resources().vread(c, v.type, v.id, n);
      if (x) {
        prev = std::move(*x);
        found = true;
      } else if (x.status().code != Err::gone) {
        return x.status();
      }
    }
    if (!found) return false;
    content = &prev;
  }
  auto doc = fhir::parse_resource(content->body);
  if (!doc) return false;  // unreadable stored content: fail closed
  fhir::IndexRows rows;
  repo.index(*doc, &rows);
  return a.permits(i, v.type, v.id, rows);
}

Result<store::Version> read_current(store::Conn& c, const Access& a, Repository& repo, const std::string& type,
                                    const std::string& id) {
  if (Status st = a.require(Interaction::read, type, id); !st) return st;
  auto x = repo.resources().read(c, type, id);
  if (!a.restricted(Interaction::read, type)) return x;
  if (x) {
    auto vis = store::visible(c, type, id, a.view(Interaction::read));
    if (!vis) return vis.status();
    if (!*vis) return not_known(type, id);
    return x;
  }
  if (x.status().code != Err::gone) return x;
  auto cur = repo.resources().current(c, type, id);
  if (!cur) return cur.status();
  if (!*cur) return not_known(type, id);
  store::Version del;
  del.type = type;
  del.id = id;
  del.version = (*cur)->version;
  del.method = "DELETE";
  auto ok = version_permitted(c, a, Interaction::read, repo, del);
  if (!ok) return ok.status();
  return *ok ? x : Result<store::Version>(not_known(type, id));
}

Result<store::Version> read_version(store::Conn& c, const Access& a, Repository& repo, const std::string& type,
                                    const std::string& id, int64_t version) {
  if (Status st = a.require(Interaction::vread, type, id); !st) return st;
  auto x = repo.resources().vread(c, type, id, version);
  if (!a.restricted(Interaction::vread, type)) return x;
  if (!x && x.status().code != Err::gone) return x;
  store::Version v;
  if (x) {
    v = *x;
  } else {  // a deletion version
    v.type = type;
    v.id = id;
    v.version = version;
    v.method = "DELETE";
  }
  auto ok = version_permitted(c, a, Interaction::vread, repo, v);
  if (!ok) return ok.status();
  return *ok ? x : Result<store::Version>(no_version(type, id, version));
}

Result<HistoryPage> history(store::Conn& c, const Access& a, Repository& repo, const store::HistoryQuery& q) {
  Interaction i = !q.id.empty() ? Interaction::history_instance
                                : !q.type.empty() ? Interaction::history_type : Interaction::history_system;
  if (Status st = a.require(i, q.type, q.id); !st) return st;
  HistoryPage out;
  if (q.id.empty()) {
    if (a.restricted(i, q.type))
      return Status(Err::forbidden, "forbidden: type and system history are not available to a token limited by its "
                                    "scopes (" + a.decide(i, q.type).reason + "); search with _lastUpdated instead");
  } else {
    auto cur = repo.resources().current(c, q.type, q.id);
    if (!cur) return cur.status();
    if (!*cur) return not_known(q.type, q.id);
  }
  if (!q.id.empty() && a.restricted(i, q.type)) {
    // Judge every version by itself (oldest first, so a deletion is judged by the content it
    // removed), then page over the permitted ones.
    store::HistoryQuery all = q;
    all.count = 100000;
    all.before_seq = 0;
    auto rows = repo.resources().history(c, all);
    if (!rows) return rows.status();
    std::vector<store::Version> kept;
    bool last_content_ok = false;
    for (auto it = rows->rbegin(); it != rows->rend(); ++it) {
      bool ok = false;
      if (it->is_delete()) {
        ok = last_content_ok;
      } else {
        auto doc = fhir::parse_resource(it->body);
        fhir::IndexRows ir;
        if (doc) repo.index(*doc, &ir);
        ok = doc.ok() && a.permits(i, it->type, it->id, ir);
        last_content_ok = ok;
      }
      if (ok) kept.push_back(std::move(*it));
    }
    if (kept.empty()) return not_known(q.type, q.id);
    std::reverse(kept.begin(), kept.end());  // newest first
    out.total = int64_t(kept.size());
    for (auto& v : kept) {
      if (q.before_seq > 0 && v.seq >= q.before_seq) continue;
      if (int(out.versions.size()) == q.count) {
        out.more = true;
        break;
      }
      out.versions.push_back(std::move(v));
    }
    return out;
  }
  store::HistoryQuery probe = q;
  probe.count = q.count + 1;  // one more tells whether there is a next page
  auto rows = repo.resources().history(c, probe);
  if (!rows) return rows.status();
  auto total = repo.resources().history_count(c, q);
  if (!total) return total.status();
  out.more = int(rows->size()) > q.count;
  if (out.more) rows->resize(size_t(q.count));
  out.versions = std::move(*rows);
  out.total = *total;
  return out;
}

Result<store::HistoryQuery> parse_history_query(const std::string& type, const std::string& id,
                                                const fhir::QueryParams& params) {
  store::HistoryQuery q;
  q.type = type;
  q.id = id;
  for (const auto& [name, v] : params) {
    if (name == "_since") {
      auto t = timefmt::parse_fhir_time(v);
      if (!t) return Status(Err::invalid, "_since '" + v + "' is not a FHIR instant", "_since");
      q.since_ms = t->lo_ms;
    } else if (name == "_at") {
      auto t = timefmt::parse_fhir_time(v);
      if (!t) return Status(Err::invalid, "_at '" + v + "' is not a FHIR date/time", "_at");
      q.at_or_before_ms = t->hi_ms - 1;
    } else if (name == "_count") {
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 6)
        return Status(Err::invalid, "_count '" + v + "' is not a whole number", "_count");
      q.count = std::min(std::max(std::stoi(v), 0), 1000);
    } else if (name == "_cursor") {
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 18)
        return Status(Err::invalid, "_cursor '" + v + "' is not valid", "_cursor");
      q.before_seq = std::stoll(v);
    }
  }
  return q;
}

std::vector<fhir::BundleEntry> history_entries(const std::vector<store::Version>& versions, const std::string& base_url) {
  std::vector<fhir::BundleEntry> entries;
  entries.reserve(versions.size());
  for (const store::Version& v : versions) {
    fhir::BundleEntry e;
    e.full_url = base_url + "/" + v.type + "/" + v.id;
    e.resource_json = v.body;
    e.request_method = v.method;
    e.request_url = v.method == "POST" ? v.type : v.type + "/" + v.id;
    if (v.is_delete()) e.response_status = "204 No Content";
    else e.response_status = v.version == 1 ? "201 Created" : "200 OK";
    e.response_etag = "W/\"" + std::to_string(v.version) + "\"";
    e.response_last_modified = timefmt::format_instant(v.last_updated);
    entries.push_back(std::move(e));
  }
  return entries;
}

Result<SearchResult> search(store::Conn& c, const Access& a, Interaction i, const fhir::SearchQuery& q,
                            store::SearchRunOptions ro) {
  const std::string type = i == Interaction::search_system || q.types.size() != 1 ? std::string() : q.types[0];
  if (i == Interaction::search_system && !q.types.empty()) {
    // _type names the types: searching each of them is what must be allowed (a token with
    // patient/Observation.rs may search ?_type=Observation without a wildcard scope).
    for (const std::string& t : q.types)
      if (Status st = a.require(Interaction::search_type, t); !st) return st;
  } else if (Status st = a.require(i, type); !st) {
    return st;
  }
  // Every resource is judged by the search permission on its own type.
  ro.view = a.view(Interaction::search_type);
  // Token :in / :not-in / :above / :below: the code sets from the terminology engine, bound
  // as one parameter each (service/terminology.h).
  std::optional<fhir::SearchQuery> resolved;
  if (Terminology::needs_code_sets(q)) {
    resolved = q;
    if (Status st = Terminology::resolve_code_sets(c, a, &*resolved); !st) return st;
  }
  const fhir::SearchQuery& rq = resolved ? *resolved : q;
  SearchResult out;
  if (rq.summary == fhir::Summary::count || rq.count == 0) {
    auto n = store::count_search(c, rq, ro.view);
    if (!n) return n.status();
    out.count = *n;
    return out;
  }
  auto page = store::run_search(c, rq, ro);
  if (!page) return page.status();
  out.page = std::move(*page);
  return out;
}

}  // namespace ef::service
