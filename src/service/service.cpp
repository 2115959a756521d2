// service/service.cpp — see service.h.
#include "service/service.h"

#include "fhir/fhirpath_patch.h"
#include "fhir/resource.h"
#include "service/terminology.h"
#include "store/search.h"

namespace ef::service {

Service::Service(store::Database& db, Repository& repo, std::string base_url)
    : db_(db), repo_(repo), base_url_(std::move(base_url)), term_(std::make_unique<Terminology>(*this)) {}

Service::~Service() = default;

namespace {

// The type a Bundle entry or request URL names ("ValueSet/1", "ValueSet?url=x" -> ValueSet).
std::string url_type(const std::string& url) {
  size_t e = url.find_first_of("/?");
  return url.substr(0, e == std::string::npos ? url.size() : e);
}

// A write to CodeSystem, ValueSet or ConceptMap invalidates cached expansions (issue 21).
bool bundle_touches_terminology(const json::Value& bundle) {
  const json::Array* es = json::get_array(bundle, "entry");
  if (!es) return false;
  for (const auto& e : *es) {
    if (const json::Value* r = json::get(e, "resource"))
      if (Terminology::is_terminology_type(json::string_or(*r, "resourceType"))) return true;
    if (const json::Value* q = json::get(e, "request"))
      if (Terminology::is_terminology_type(url_type(json::string_or(*q, "url")))) return true;
  }
  return false;
}

}  // namespace

MatchResolver Service::resolver() const {
  std::string base = base_url_;
  return [base](store::Conn& c, const std::string& type, const std::string& q, size_t limit, const store::View* view) {
    return store::resolve_matches(c, type, q, limit, base, view);
  };
}

Result<store::Version> Service::read(const Access& a, const std::string& type, const std::string& id) {
  // One statement needs no transaction of its own (the hot path of an unrestricted read);
  // a restricted read runs several and wants one snapshot.
  if (!a.restricted(auth::Interaction::read, type)) return read_current(db_.reader(), a, repo_, type, id);
  Result<store::Version> out = Status(Err::internal, "not run");
  Status st = db_.read([&](store::Conn& c) -> Status {
    out = read_current(c, a, repo_, type, id);
    return Status();
  });
  if (!st) return st;
  return out;
}

Result<store::Version> Service::vread(const Access& a, const std::string& type, const std::string& id,
                                      int64_t version) {
  if (!a.restricted(auth::Interaction::vread, type)) return read_version(db_.reader(), a, repo_, type, id, version);
  Result<store::Version> out = Status(Err::internal, "not run");
  Status st = db_.read([&](store::Conn& c) -> Status {
    out = read_version(c, a, repo_, type, id, version);
    return Status();
  });
  if (!st) return st;
  return out;
}

Result<HistoryPage> Service::history(const Access& a, const store::HistoryQuery& q) {
  Result<HistoryPage> out = Status(Err::internal, "not run");
  Status st = db_.read([&](store::Conn& c) -> Status {
    out = service::history(c, a, repo_, q);
    return Status();
  });
  if (!st) return st;
  return out;
}

Result<SearchResult> Service::search(const Access& a, auth::Interaction i, const fhir::SearchQuery& q,
                                     const store::SearchRunOptions& ro) {
  Result<SearchResult> out = Status(Err::internal, "not run");
  Status st = db_.read([&](store::Conn& c) -> Status {
    out = service::search(c, a, i, q, ro);
    return Status();
  });
  if (!st) return st;
  return out;
}

Result<EntryResult> Service::execute(EntryRequest& e, const BundleOptions& opt) {
  BundleProcessor bp(repo_, resolver());
  Result<EntryResult> out = Status(Err::internal, "not run");
  Repository::Prepared p;
  // A write of a CodeSystem, ValueSet or ConceptMap invalidates cached expansions once it
  // has committed (service/terminology.h), whichever path below stores it.
  bool get = e.method == "GET" || e.method == "HEAD";
  bool term = !get && (Terminology::is_terminology_type(e.type) || Terminology::is_terminology_type(url_type(e.url)));
  if (bp.prepare_create(e, opt, &p)) {
    // A plain create: prepared on this thread, the writer (possibly another request's thread,
    // store/db.h group commit) only stores it.  Replayable: run again it stores the same
    // resource (restamped) and sets `out` afresh.
    Status st = db_.write(
        [&](store::Conn& c) -> Status {
          out = bp.write_prepared_create(c, p);
          return out.ok() ? Status() : out.status();
        },
        store::Database::WriteKind::replayable);
    if (term) Terminology::bump_generation();
    if (!out.ok()) return out;
    if (!st) return st;
    return out;
  }
  auto run = [&](store::Conn& c) -> Status {
    out = bp.execute(c, e, opt);
    return out.ok() ? Status() : out.status();  // a failure rolls the write back
  };
  Status st = get ? db_.read(run) : db_.write(run);
  if (term) Terminology::bump_generation();
  if (!out.ok()) return out;
  if (!st) return st;  // the commit itself failed
  return out;
}

Result<json::Value> Service::meta(const Access& a, const std::string& type, const std::string& id, int64_t version) {
  auto v = version > 0 ? vread(a, type, id, version) : read(a, type, id);
  if (!v) return v.status();
  auto doc = fhir::parse_resource(v->body);
  if (!doc) return Status(Err::internal, "stored resource cannot be parsed");
  return fhir::meta_of(*doc, true);
}

Result<store::MetaCodes> Service::meta_summary(const Access& a, const std::string& type, size_t limit) {
  // Each resource is judged by the search permission on its own type, as a search would; a
  // type the caller may not search contributes nothing (system level) or is refused (type).
  // The level itself is authorized as the search of that level (system: a search over all
  // types, so a caller refused a system search is refused here too).
  if (Status st = a.require(type.empty() ? auth::Interaction::search_system : auth::Interaction::search_type, type); !st)
    return st;
  const store::View* view = a.view(auth::Interaction::search_type);
  Result<store::MetaCodes> out = Status(Err::internal, "not run");
  Status st = db_.read([&](store::Conn& c) -> Status {
    out = store::meta_codes(c, type, view, limit);
    return Status();
  });
  if (!st) return st;
  return out;
}

Result<BundleResult> Service::bundle(json::Value bundle, const BundleOptions& opt) {
  BundleProcessor bp(repo_, resolver());
  bool term = bundle_touches_terminology(bundle);
  auto out = bp.process(std::move(bundle), opt);
  if (term) Terminology::bump_generation();  // after the commit (service/terminology.h)
  return out;
}

}  // namespace ef::service
