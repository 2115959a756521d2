// service/terminology.cpp — see terminology.h.
#include "service/terminology.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "fhir/search_query.h"
#include "service/reads.h"
#include "service/service.h"
#include "store/changes.h"
#include "util/time.h"

namespace ef::service {

namespace term = fhir::term;

namespace {

std::atomic<uint64_t> g_generation{1};
std::atomic<Terminology*> g_instance{nullptr};

// A stored resource of `type` with canonical `url` (and `version`), visible to `a` by its
// search permission on the type; nullptr when none (or the caller may not search the type).
// A search of the caller's (search_type on `type`): on `conn` when the caller is already
// inside a read transaction (a search resolving :in), else in one of its own.
Result<SearchResult> run_search(Service& svc, store::Conn* conn, const Access& a, const std::string& type,
                                const fhir::QueryParams& qp) {
  auto q = fhir::parse_search(type, qp);
  if (!q) return q.status();
  if (conn) return service::search(*conn, a, auth::Interaction::search_type, *q);
  return svc.search(a, auth::Interaction::search_type, *q);
}

std::shared_ptr<const json::Value> first_match(const Result<SearchResult>& r) {
  if (!r || r->page.matches.empty()) return nullptr;
  auto v = json::parse(r->page.matches.front().body);
  if (!v) return nullptr;
  return std::make_shared<const json::Value>(std::move(*v));
}

std::shared_ptr<const json::Value> find_stored(Service& svc, store::Conn* conn, const Access& a, const std::string& type,
                                               const std::string& url, const std::string& version) {
  if (url.empty()) return nullptr;
  if (!a.decide(auth::Interaction::search_type, type).allowed) return nullptr;
  fhir::QueryParams qp{{"url", url}, {"_sort", "-_lastUpdated"}, {"_count", "1"}};
  if (!version.empty()) qp.push_back({"version", version});
  auto r = run_search(svc, conn, a, type, qp);
  if (!r || r->page.matches.empty()) return nullptr;
  auto v = json::parse(r->page.matches.front().body);
  if (!v) return nullptr;
  return std::make_shared<const json::Value>(std::move(*v));
}

// Stored definitions visible to the caller, then the bundled ones; memoised for one request.
class CallerSource : public term::Source {
 public:
  CallerSource(Service& svc, const Access& a, store::Conn* conn) : svc_(svc), a_(a), conn_(conn) {}
  std::shared_ptr<const term::CodeSystem> code_system(const std::string& url, const std::string& version) const override {
    auto key = url + "|" + version;
    auto it = cs_.find(key);
    if (it != cs_.end()) return it->second;
    std::shared_ptr<const term::CodeSystem> out;
    if (auto r = find_stored(svc_, conn_, a_, "CodeSystem", url, version)) {
      auto cs = term::parse_code_system(*r, true);
      if (cs) out = *cs;
    }
    if (!out) out = term::bundled().code_system(url, version);
    cs_[key] = out;
    return out;
  }
  std::shared_ptr<const json::Value> value_set(const std::string& url, const std::string& version) const override {
    auto key = url + "|" + version;
    auto it = vs_.find(key);
    if (it != vs_.end()) return it->second;
    auto out = find_stored(svc_, conn_, a_, "ValueSet", url, version);
    if (!out) out = term::bundled().value_set(url, version);
    vs_[key] = out;
    return out;
  }
  std::shared_ptr<const json::Value> concept_map(const std::string& url, const std::string& source,
                                                 const std::string& target) const override {
    if (!url.empty()) return find_stored(svc_, conn_, a_, "ConceptMap", url, "");
    if (!a_.decide(auth::Interaction::search_type, "ConceptMap").allowed) return nullptr;
    fhir::QueryParams qp{{"_sort", "-_lastUpdated"}, {"_count", "1"}};
    if (!source.empty()) qp.push_back({"source-uri", source});
    if (!target.empty()) qp.push_back({"target-uri", target});
    if (source.empty() && target.empty()) return nullptr;
    return first_match(run_search(svc_, conn_, a_, "ConceptMap", qp));
  }

 private:
  Service& svc_;
  const Access& a_;
  store::Conn* conn_;
  mutable std::map<std::string, std::shared_ptr<const term::CodeSystem>> cs_;
  mutable std::map<std::string, std::shared_ptr<const json::Value>> vs_;
};

Status unknown(const std::string& what) {
  Status st(Err::not_found, what);
  st.issue_code = "not-found";
  return st;
}

// Reads type/id for the caller (read interaction), parsed.
Result<std::shared_ptr<const json::Value>> read_instance(Service& svc, const Access& a, const std::string& type,
                                                         const std::string& id) {
  auto v = svc.read(a, type, id);
  if (!v) return v.status();
  auto j = json::parse(v->body);
  if (!j) return Status(Err::internal, "the stored resource cannot be parsed");
  return std::make_shared<const json::Value>(std::move(*j));
}

// The caller's visibility of stored terminology, part of every cache key: callers who see
// different stored content never share an entry.  "" = do not cache (the caller's view of a
// type is limited by scope constraints, so two such callers may see different resources).
std::string visibility(const Access& a) {
  std::string v;
  for (const char* t : {"CodeSystem", "ValueSet"}) {
    const auth::Decision& d = a.decide(auth::Interaction::search_type, t);
    if (d.allowed && (!d.constraints.empty() || !d.compartment_patient.empty())) return "";
    v += d.allowed ? '1' : '0';
  }
  return v;
}

}  // namespace

std::optional<bool> Terminology::stored_binding(const std::string& url, const std::string& system,
                                               const std::string& code) {
  Terminology* t = g_instance.load();
  if (!t) return std::nullopt;
  return t->stored_binding_has(url, system, code);
}

void Terminology::bump_generation() { g_generation.fetch_add(1); }
uint64_t Terminology::generation() { return g_generation.load(); }
bool Terminology::is_terminology_type(const std::string& t) {
  return t == "CodeSystem" || t == "ValueSet" || t == "ConceptMap";
}

Terminology::Terminology(Service& svc, term::Limits lim) : svc_(svc), lim_(lim), cache_(256, 64u << 20) {
  g_instance.store(this);
}

void Terminology::notice_writes(store::Conn* conn) {
  static const std::vector<std::string> kTypes{"CodeSystem", "ValueSet", "ConceptMap"};
  // Fast path: nothing was committed anywhere since this thread last looked (PRAGMA
  // data_version of the thread's own read connection, outside a transaction: read before the
  // scan's snapshot is taken, so an unchanged value means the last scan saw everything).
  // Inside a caller's read transaction (conn) the scan runs on its snapshot, every time.
  struct Seen {
    const Terminology* owner = nullptr;
    int64_t data_version = -1;
  };
  thread_local Seen t_seen;
  Result<int64_t> dv = Status(Err::internal, "not read");
  int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now().time_since_epoch()).count();
  if (!conn) {
    // At most one look per millisecond for the whole process: under load most requests skip
    // even the PRAGMA (another process's commit is seen at most 1 ms late).
    int64_t last = last_look_us_.load(std::memory_order_relaxed);
    if (last > 0 && now_us - last < 1000) return;
    dv = store::data_version(svc_.database().reader());
    if (dv && t_seen.owner == this && t_seen.data_version == *dv) return;
  }
  auto scan = [&](store::Conn& c) -> Status {
    int64_t seen = seen_seq_.load();
    // The first look only learns where the table ends: the cache starts empty.
    auto r = store::changes_since(c, std::max<int64_t>(seen, 0), kTypes, seen < 0 ? 0 : 100000);
    if (!r) return r.status();
    if (r->touched && seen >= 0) bump_generation();
    // Advance to what this scan covered; another thread may have gone further already.
    int64_t cur = seen_seq_.load();
    while (r->newest_seq > cur && !seen_seq_.compare_exchange_weak(cur, r->newest_seq)) {
    }
    return Status();
  };
  Status st = conn ? scan(*conn) : svc_.database().read(scan);
  if (!st) {
    bump_generation();  // could not tell: do not trust the cache
    return;
  }
  if (dv) t_seen = Seen{this, *dv};
  if (!conn) last_look_us_.store(now_us, std::memory_order_relaxed);
}

void Terminology::configure(size_t max_expansion, size_t cache_entries, size_t cache_bytes) {
  lim_.max_expansion = max_expansion;
  cache_.set_budget(cache_entries, cache_bytes);
}

Terminology::~Terminology() {
  Terminology* me = this;
  g_instance.compare_exchange_strong(me, nullptr);
}

namespace {

template <class F>
void each_criterion(std::vector<fhir::Criterion>& cs, const F& f);

template <class F>
void each_one(fhir::Criterion& c, const F& f) {
  f(c);
  for (auto& [t, sub] : c.chain)
    if (sub) each_one(*sub, f);
  if (c.next) each_one(*c.next, f);
}

template <class F>
void each_criterion(std::vector<fhir::Criterion>& cs, const F& f) {
  for (auto& c : cs) each_one(c, f);
}

}  // namespace

bool Terminology::needs_code_sets(const fhir::SearchQuery& q) {
  bool any = false;
  auto& cs = const_cast<std::vector<fhir::Criterion>&>(q.criteria);  // read only
  each_criterion(cs, [&](fhir::Criterion& c) { any = any || fhir::needs_code_set(c.type, c.modifier); });
  return any;
}

Status Terminology::resolve_code_sets(store::Conn& conn, const Access& a, fhir::SearchQuery* q) {
  Terminology* t = g_instance.load();
  Status out;
  each_criterion(q->criteria, [&](fhir::Criterion& c) {
    if (!out || !fhir::needs_code_set(c.type, c.modifier)) return;
    if (!t) {
      out = Status(Err::internal, "terminology is not available");
      return;
    }
    for (auto& v : c.values) {
      if (v.code_set_resolved) continue;
      json::Array pairs;
      auto pair = [&](const std::string& s, const std::string& code) {
        json::Array p{json::Value(s), json::Value(code)};
        pairs.push_back(json::Value(std::move(p)));
      };
      if (c.modifier == fhir::Modifier::in || c.modifier == fhir::Modifier::not_in) {
        auto codes = t->value_set_codes(a, v.url, &conn);
        if (!codes) {
          Status st = codes.status();
          st.message = "search parameter '" + c.name + "': " + st.message;
          if (st.code == Err::not_found) st.code = Err::invalid;  // the search is refused, not "not found"
          st.expression = c.name;
          out = st;
          return;
        }
        for (const auto& [s, code] : *codes) pair(s, code);
      } else {
        auto codes = t->related_codes(a, v.system, v.code, c.modifier == fhir::Modifier::below, &conn);
        if (!codes) {
          Status st = codes.status();
          st.message = "search parameter '" + c.name + "': " + st.message;
          st.expression = c.name;
          out = st;
          return;
        }
        for (const auto& code : *codes) pair(v.system, code);
      }
      v.code_set = json::write(json::Value(std::move(pairs)));
      v.code_set_resolved = true;
    }
  });
  return out;
}

Result<std::shared_ptr<const json::Value>> Terminology::value_set_def(const Access& a, const TermRequest& r,
                                                                      store::Conn* conn) {
  if (r.resource) {
    if (json::string_or(*r.resource, "resourceType") != "ValueSet")
      return Status(Err::invalid, "the parameter valueSet must be a ValueSet resource", "valueSet");
    return std::make_shared<const json::Value>(*r.resource);
  }
  if (!r.id.empty()) {
    if (!conn) return read_instance(svc_, a, "ValueSet", r.id);
    // inside a search (:in=ValueSet/id): found by a search of the caller's on the same snapshot
    auto found = run_search(svc_, conn, a, "ValueSet", {{"_id", r.id}});
    if (!found) return found.status();
    auto v = first_match(found);
    if (!v) return unknown("ValueSet/" + r.id + " is not known");
    return v;
  }
  if (r.url.empty())
    return Status(Err::invalid, "give the value set: the url parameter, a valueSet resource (POST) or ValueSet/[id]/", "url");
  CallerSource src(svc_, a, conn);
  auto vs = src.value_set(r.url, r.version);
  if (!vs) return unknown("value set " + r.url + (r.version.empty() ? "" : "|" + r.version) + " is not known on this server");
  return vs;
}

Result<std::shared_ptr<const term::Expansion>> Terminology::expansion(const Access& a, const TermRequest& r,
                                                                      std::shared_ptr<const json::Value>* def,
                                                                      store::Conn* conn) {
  // The generation is read before anything is looked up, so an entry computed from content
  // older than a committed write is never filed under the generation that write created.
  notice_writes(conn);
  uint64_t gen = generation();
  std::string vis = visibility(a);
  bool cacheable = !vis.empty() && !r.resource && r.id.empty() && !r.url.empty();
  std::string key;
  if (cacheable) {
    key = std::to_string(gen) + '\x1f' + vis + '\x1f' + r.url + '\x1f' + r.version + '\x1f' +
          (r.expand.active_only ? "1" : "0");
    if (auto hit = cache_.get(key)) {
      if (def) {
        auto d = value_set_def(a, r, conn);
        if (!d) return d.status();
        *def = *d;
      }
      return hit;
    }
  }
  auto d = value_set_def(a, r, conn);
  if (!d) return d.status();
  if (def) *def = *d;
  CallerSource src(svc_, a, conn);
  auto e = term::expand(src, **d, r.expand.active_only, lim_);
  if (!e) return e.status();
  if (cacheable) cache_.put(key, *e);
  return *e;
}

Result<json::Value> Terminology::expand(const Access& a, const TermRequest& r) {
  if (r.expand.count < -1 || r.expand.count > lim_.max_count)
    return Status(Err::invalid, "count must be between 0 and " + std::to_string(lim_.max_count), "count");
  if (r.expand.offset < 0 || r.expand.offset > lim_.max_offset)
    return Status(Err::invalid, "offset must be between 0 and " + std::to_string(lim_.max_offset), "offset");
  if (r.expand.filter.size() > 200) return Status(Err::invalid, "filter is longer than 200 characters", "filter");
  std::shared_ptr<const json::Value> def;
  auto e = expansion(a, r, &def, nullptr);
  if (!e) return e.status();
  return term::expansion_resource(*def, **e, r.expand, timefmt::format_instant(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count()));
}

Result<json::Value> Terminology::validate_code(const Access& a, const std::string& type, const TermRequest& r) {
  std::vector<term::CodeRef> codes = r.codings;
  if (!r.code.code.empty()) codes.insert(codes.begin(), r.code);
  if (codes.empty()) return Status(Err::invalid, "give the code to validate: code (+ system), coding or codeableConcept", "code");
  if (type == "CodeSystem") {
    // CodeSystem/$validate-code: is the code defined in the code system?
    CallerSource src(svc_, a, nullptr);
    std::shared_ptr<const term::CodeSystem> cs;
    std::string url = r.url.empty() ? codes[0].system : r.url;
    if (!r.id.empty()) {
      auto d = read_instance(svc_, a, "CodeSystem", r.id);
      if (!d) return d.status();
      auto p = term::parse_code_system(**d, true);
      if (!p) return p.status();
      cs = *p;
      url = cs->url;
    } else {
      if (url.empty()) return Status(Err::invalid, "give the code system: url or system", "url");
      cs = src.code_system(url, r.version);
    }
    if (!cs) return term::not_available("code system " + url + " is not available on this server (not bundled and not stored)");
    term::Expansion e;
    for (const auto& k : cs->concepts) {
      term::Item it;
      it.system = cs->url;
      it.code = k.code;
      it.display = k.display;
      it.designations = k.designations;
      e.index.emplace(it.system + '\x1f' + it.code, uint32_t(e.items.size()));
      e.items.push_back(std::move(it));
    }
    term::CodeRef c = codes[0];
    if (c.system.empty()) c.system = cs->url;
    return term::validate_code(e, cs->url, c);
  }
  auto e = expansion(a, r, nullptr, nullptr);
  if (!e) return e.status();
  std::string vs_url = r.url.empty() ? (*e)->url : r.url;
  json::Value last;
  for (const auto& c : codes) {
    last = term::validate_code(**e, vs_url, c);
    const json::Array* ps = json::get_array(last, "parameter");
    if (ps && !ps->empty() && json::get(ps->front(), "valueBoolean") && json::get(ps->front(), "valueBoolean")->get<bool>())
      return last;
  }
  return last;
}

Result<json::Value> Terminology::lookup(const Access& a, const TermRequest& r) {
  term::CodeRef c = r.code;
  if (c.code.empty()) return Status(Err::invalid, "give the code to look up: code and system, or coding", "code");
  CallerSource src(svc_, a, nullptr);
  if (!r.id.empty()) {
    auto d = read_instance(svc_, a, "CodeSystem", r.id);
    if (!d) return d.status();
    c.system = json::string_or(**d, "url");
    auto cs = term::parse_code_system(**d, true);
    if (!cs) return cs.status();
    struct One : term::Source {
      std::shared_ptr<const term::CodeSystem> cs;
      std::shared_ptr<const term::CodeSystem> code_system(const std::string&, const std::string&) const override { return cs; }
      std::shared_ptr<const json::Value> value_set(const std::string&, const std::string&) const override { return nullptr; }
    } one;
    one.cs = *cs;
    return term::lookup(one, c, r.properties);
  }
  if (c.system.empty()) return Status(Err::invalid, "give the system of the code", "system");
  return term::lookup(src, c, r.properties);
}

Result<json::Value> Terminology::subsumes(const Access& a, const TermRequest& r) {
  if (r.code_a.empty() || r.code_b.empty())
    return Status(Err::invalid, "give both codeA and codeB (or codingA and codingB)", r.code_a.empty() ? "codeA" : "codeB");
  std::string system = r.code.system;
  CallerSource src(svc_, a, nullptr);
  if (!r.id.empty()) {
    auto d = read_instance(svc_, a, "CodeSystem", r.id);
    if (!d) return d.status();
    system = json::string_or(**d, "url");
  }
  if (system.empty()) return Status(Err::invalid, "give the system of the codes", "system");
  return term::subsumes(src, system, r.code.version, r.code_a, r.code_b);
}

Result<json::Value> Terminology::translate(const Access& a, const TermRequest& r) {
  if (r.code.code.empty()) return Status(Err::invalid, "give the code to translate: code and system, or coding", "code");
  std::shared_ptr<const json::Value> map;
  CallerSource src(svc_, a, nullptr);
  if (r.resource) {
    if (json::string_or(*r.resource, "resourceType") != "ConceptMap")
      return Status(Err::invalid, "the parameter conceptMap must be a ConceptMap resource", "conceptMap");
    map = std::make_shared<const json::Value>(*r.resource);
  } else if (!r.id.empty()) {
    auto d = read_instance(svc_, a, "ConceptMap", r.id);
    if (!d) return d.status();
    map = *d;
  } else {
    if (r.url.empty() && r.source.empty() && r.target.empty())
      return Status(Err::invalid, "give the concept map: url, source or target (value sets), or ConceptMap/[id]/$translate", "url");
    map = src.concept_map(r.url, r.source, r.target);
    if (!map)
      return unknown("no concept map " + (r.url.empty() ? "from " + r.source + " to " + r.target : r.url) +
                     " is known on this server");
  }
  return term::translate(*map, r.code, r.target_system, r.reverse);
}

Result<std::vector<std::pair<std::string, std::string>>> Terminology::value_set_codes(const Access& a,
                                                                                    const std::string& ref,
                                                                                    store::Conn* conn) {
  TermRequest r;
  if (ref.compare(0, 9, "ValueSet/") == 0) r.id = ref.substr(9);
  else {
    r.url = ref;
    if (size_t bar = r.url.find('|'); bar != std::string::npos) r.version = r.url.substr(bar + 1), r.url.resize(bar);
  }
  auto e = expansion(a, r, nullptr, conn);
  if (!e) return e.status();
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve((*e)->items.size());
  for (const auto& it : (*e)->items) out.emplace_back(it.system, it.code);
  return out;
}

Result<std::vector<std::string>> Terminology::related_codes(const Access& a, const std::string& system,
                                                            const std::string& code, bool below, store::Conn* conn) {
  CallerSource src(svc_, a, conn);
  auto cs = src.code_system(system, "");
  if (!cs)
    return term::not_available("code system " + system + " is not available on this server (not bundled and not stored): "
                               ":above and :below need its hierarchy");
  int i = cs->index(code);
  if (i < 0) {
    Status st(Err::invalid, "the code '" + code + "' is not defined in " + system);
    st.issue_code = "code-invalid";
    return st;
  }
  std::vector<std::string> out;
  if (below) {
    auto d = cs->descendants_or_self(uint32_t(i));
    if (d.size() > lim_.max_expansion)
      return Status(Err::too_large, ":below " + code + " has more than " + std::to_string(lim_.max_expansion) + " codes");
    for (uint32_t x : d) out.push_back(cs->concepts[x].code);
  } else {
    for (uint32_t x = 0; x < cs->concepts.size(); ++x)
      if (cs->subsumes(x, uint32_t(i))) out.push_back(cs->concepts[x].code);
  }
  return out;
}

std::optional<bool> Terminology::stored_binding_has(const std::string& url, const std::string& system,
                                                    const std::string& code) {
  const Access& a = Access::unrestricted();
  TermRequest r;
  r.url = url;
  if (size_t bar = r.url.find('|'); bar != std::string::npos) r.version = r.url.substr(bar + 1), r.url.resize(bar);
  // Only stored value sets: the bundled ones are checked by the validator itself.  "No stored
  // value set of this URL" is remembered for the current generation (a write of a ValueSet
  // bumps it), so a write does not search for the same absent value set again and again.
  notice_writes(nullptr);
  uint64_t gen = generation();
  {
    std::lock_guard<std::mutex> g(absent_mu_);
    if (absent_gen_ != gen) absent_.clear(), absent_gen_ = gen;
    if (absent_.count(url)) return std::nullopt;
  }
  if (!find_stored(svc_, nullptr, a, "ValueSet", r.url, r.version)) {
    std::lock_guard<std::mutex> g(absent_mu_);
    if (absent_gen_ == gen && absent_.size() < 10000) absent_.insert(url);
    return std::nullopt;
  }
  auto e = expansion(a, r, nullptr, nullptr);
  if (!e) return std::nullopt;
  return system.empty() ? (*e)->find_code(code) != nullptr : (*e)->find(system, code) != nullptr;
}

}  // namespace ef::service
