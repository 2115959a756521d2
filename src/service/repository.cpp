// service/repository.cpp — see repository.h.
#include "service/repository.h"

#include <algorithm>
#include <random>

#include "fhir/element_order.h"
#include "fhir/fhirpath_patch.h"
#include "fhir/json_patch.h"
#include "fhir/resource.h"
#include "util/time.h"

namespace ef::service {

// format_instant's width ("2026-12-03T11:40:44.345Z"): a restamp replaces exactly these bytes.
static constexpr size_t kInstantChars = 24;

std::string Repository::new_id() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^ (uint64_t(std::random_device{}()) << 32)};
  uint64_t a = rng(), b = rng();
  // UUID v4 layout, lower-case hex: a valid FHIR id and unguessable.
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  char buf[40];
  snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", unsigned(a >> 32), unsigned((a >> 16) & 0xFFFF),
           unsigned(a & 0xFFFF), unsigned(b >> 48), (unsigned long long)(b & 0xFFFFFFFFFFFFULL));
  return buf;
}

int64_t Repository::stamp(int64_t at_least) {
  std::lock_guard<std::mutex> lk(stamp_mu_);
  // Transactions finished so far (store/db.h WriteStats::groups: counted at COMMIT, under the
  // writer lock, before the next transaction begins).  Unchanged: this write shares the open
  // transaction of the previous stamp and may share its millisecond.
  uint64_t tx = db_.write_stats().groups;
  int64_t now = std::max(clock_.now_ms(), at_least);
  int64_t floor = tx == stamp_tx_ ? last_stamp_ : last_stamp_ + 1;
  if (now < floor) now = floor;
  last_stamp_ = now;
  stamp_tx_ = tx;
  return now;
}

static Status version_mismatch(const std::string& type, const std::string& id, int64_t want, int64_t have) {
  Status st(Err::precondition, "version conflict on " + type + "/" + id + ": If-Match expects version " +
                                   std::to_string(want) + " but the current version is " + std::to_string(have));
  st.issue_code = "conflict";
  return st;
}

Result<WriteResult> Repository::write(store::Conn& c, const std::string& type, const std::string& id,
                                      json::Value resource, const std::optional<store::Current>& cur,
                                      const std::string& method) {
  if (check_) {
    Status st = check_(resource, nullptr);  // issues that do not refuse the write are logged by it
    if (!st) return st;
  }
  if (cur && !cur->deleted) {
    // An update identical to the current content creates no new version.
    json::Value probe = resource;
    auto prev = res_.by_seq(c, cur->seq);
    if (prev) {
      fhir::stamp(probe, id, cur->version, cur->last_updated);
      if (fhir::write_in_definition_order(probe) == prev->body) {
        WriteResult w{type, id, cur->version, cur->last_updated, false, true, false, prev->body};
        return w;
      }
    }
  }
  int64_t version = cur ? cur->version + 1 : 1;
  int64_t now = stamp(cur ? cur->last_updated + 1 : 0);  // lastUpdated never goes backwards
  Prepared p = prepare(type, id, std::move(resource), version, now);
  auto r = res_.write_version(c, type, id, version, p.body, method, now, p.rows);
  if (!r) return r.status();
  WriteResult w;
  w.type = type;
  w.id = id;
  w.version = version;
  w.last_updated = now;
  w.created = !cur || cur->deleted;
  w.body = std::move(p.body);
  return w;
}

Repository::Prepared Repository::prepare(std::string type, std::string id, json::Value resource, int64_t version,
                                         int64_t now_ms) const {
  Prepared p;
  fhir::stamp(resource, id, version, now_ms);
  p.body = fhir::write_in_definition_order(resource);  // element order of the R4 definitions
  {
    // The stamp's place, for write_prepared_create: the top-level meta follows resourceType
    // and id, and starts with versionId and lastUpdated (definition order).
    std::string ts = timefmt::format_instant(now_ms);
    std::string head = "{\"resourceType\":" + json::write(json::Value(type)) + ",\"id\":" + json::write(json::Value(id)) +
                       ",\"meta\":{\"versionId\":\"" + std::to_string(version) + "\",\"lastUpdated\":\"";
    if (ts.size() == kInstantChars && p.body.compare(0, head.size(), head) == 0 &&
        p.body.compare(head.size(), ts.size() + 1, ts + "\"") == 0)
      p.stamp_at = head.size();
  }
  if (indexer_) indexer_(resource, &p.rows);
  p.type = std::move(type);
  p.id = std::move(id);
  p.version = version;
  p.now_ms = now_ms;
  return p;
}

Result<WriteResult> Repository::write_prepared(store::Conn& c, const Prepared& p, const std::string& method) {
  auto r = res_.write_version(c, p.type, p.id, p.version, p.body, method, p.now_ms, p.rows);
  if (!r) return r.status();
  WriteResult w;
  w.type = p.type;
  w.id = p.id;
  w.version = p.version;
  w.last_updated = p.now_ms;
  w.created = true;
  return w;  // body left empty: the caller has it
}

Result<WriteResult> Repository::write_prepared_create(store::Conn& c, Prepared& p) {
  int64_t now = stamp(0);  // later than every committed transaction, as every other write
  if (now != p.now_ms) {
    std::string ts = timefmt::format_instant(now);
    // (A body whose meta does not start with versionId and lastUpdated keeps the time it was
    // prepared at: BundleProcessor::prepare_create sends those creates the general way.)
    if (p.stamp_at != std::string::npos && ts.size() == kInstantChars && p.stamp_at + ts.size() <= p.body.size()) {
      p.body.replace(p.stamp_at, ts.size(), ts);
      p.now_ms = now;
    }
  }
  auto w = write_prepared(c, p, "POST");
  if (!w) return w;
  w->body = p.body;  // a copy: the writer may run this again (store/db.h WriteKind::replayable)
  return w;
}

Result<WriteResult> Repository::create(store::Conn& c, json::Value resource, const std::string& id) {
  const std::string type = fhir::resource_type_of(resource);
  Status st = fhir::check_type_and_id(resource, type, "", false);
  if (!st) return st;
  std::string new_id_ = id.empty() ? Repository::new_id() : id;
  return write(c, type, new_id_, std::move(resource), std::nullopt, "POST");
}

Result<WriteResult> Repository::update(store::Conn& c, const std::string& type, const std::string& id,
                                       json::Value resource, const WriteOptions& opt) {
  if (!fhir::valid_id(id)) return Status(Err::invalid, "'" + id + "' is not a valid FHIR id");
  Status st = fhir::check_type_and_id(resource, type, id, true);
  if (!st) return st;
  auto cur = res_.current(c, type, id);
  if (!cur) return cur.status();
  if (opt.if_match) {
    if (!*cur || (*cur)->deleted) {
      Status s(Err::precondition, "If-Match given but " + type + "/" + id + " does not exist");
      return s;
    }
    if ((*cur)->version != *opt.if_match) return version_mismatch(type, id, *opt.if_match, (*cur)->version);
  }
  return write(c, type, id, std::move(resource), *cur, opt.method.empty() ? "PUT" : opt.method);
}

Result<WriteResult> Repository::modify(store::Conn& c, const std::string& type, const std::string& id,
                                       const std::function<Status(json::Value&)>& edit, const WriteOptions& opt,
                                       const char* what) {
  auto cur = res_.current(c, type, id);
  if (!cur) return cur.status();
  if (!*cur) return Status(Err::not_found, type + "/" + id + " is not known");
  if ((*cur)->deleted) return Status(Err::gone, type + "/" + id + " was deleted");
  if (opt.if_match && (*cur)->version != *opt.if_match) return version_mismatch(type, id, *opt.if_match, (*cur)->version);
  auto prev = res_.by_seq(c, (*cur)->seq);
  if (!prev) return prev.status();
  auto doc = fhir::parse_resource(prev->body);
  if (!doc) return Status(Err::internal, "stored resource cannot be parsed");
  json::Value patched = *doc;
  Status st = edit(patched);
  if (!st) return st;
  if (!json::is_object(patched)) return Status(Err::unprocessable, std::string("the ") + what + " result is not a resource");
  // The patched resource must still be a valid resource of the same type and id.
  std::string text = json::write(patched);
  auto re = fhir::parse_resource(text);
  if (!re)
    return Status(Err::unprocessable, std::string("the ") + what + " result is not a valid resource: " + re.status().message);
  st = fhir::check_type_and_id(*re, type, id, true);
  if (!st) return Status(Err::unprocessable, std::string("the ") + what + " result is not valid: " + st.message);
  return write(c, type, id, std::move(*re), *cur, "PATCH");
}

Result<WriteResult> Repository::patch(store::Conn& c, const std::string& type, const std::string& id,
                                      const json::Value& patch_doc, const WriteOptions& opt) {
  if (!fhir::is_fhirpath_patch(patch_doc))
    return modify(c, type, id, [&](json::Value& d) { return fhir::apply_json_patch(d, patch_doc); }, opt, "patch");
  auto fp = fhir::FhirPathPatch::parse(patch_doc);
  if (!fp) return fp.status();
  json::Value original;
  auto r = modify(c, type, id, [&](json::Value& d) {
    original = d;
    return fp->apply(d);
  }, opt, "FHIRPath Patch");
  if (r || r.status().code != Err::unprocessable || !check_ || original.is<picojson::null>()) return r;
  // The result was refused: name the first operation after which the resource no longer
  // passes the write check (the patch applied to the stored version step by step).
  json::Value d = original;
  for (size_t i = 0; i < fp->size(); ++i) {
    if (!fp->apply(d, i)) break;
    std::vector<fhir::Issue> ignored;
    Status st = check_(d, &ignored);
    if (!st) {
      Status out = r.status();
      out.message = fp->describe(i) + " makes the resource invalid: " + r.status().message;
      return out;
    }
  }
  return r;
}

Result<WriteResult> Repository::change_meta(store::Conn& c, const std::string& type, const std::string& id,
                                            const json::Value& meta, bool add, const WriteOptions& opt) {
  return modify(c, type, id, [&](json::Value& d) { return fhir::apply_meta_change(d, meta, add); }, opt,
                add ? "$meta-add" : "$meta-delete");
}

Result<WriteResult> Repository::remove(store::Conn& c, const std::string& type, const std::string& id,
                                       const WriteOptions& opt) {
  auto cur = res_.current(c, type, id);
  if (!cur) return cur.status();
  WriteResult w;
  w.type = type;
  w.id = id;
  w.deleted = true;
  if (!*cur || (*cur)->deleted) {
    if (opt.if_match) return Status(Err::precondition, "If-Match given but " + type + "/" + id + " does not exist");
    // Deleting something absent or already deleted is a success without a new version.
    if (*cur) {
      w.version = (*cur)->version;
      w.last_updated = (*cur)->last_updated;
    }
    w.unchanged = true;
    return w;
  }
  if (opt.if_match && (*cur)->version != *opt.if_match) return version_mismatch(type, id, *opt.if_match, (*cur)->version);
  int64_t now = stamp((*cur)->last_updated + 1);
  auto r = res_.write_delete(c, type, id, (*cur)->version + 1, now);
  if (!r) return r.status();
  w.version = r->version;
  w.last_updated = now;
  return w;
}

template <class F>
static Result<WriteResult> in_tx(store::Database& db, F&& f) {
  Result<WriteResult> out = Status(Err::internal, "not run");
  Status st = db.write([&](store::Conn& c) -> Status {
    out = f(c);
    return out.ok() ? Status() : out.status();
  });
  if (!st) return st;
  return out;
}

Result<WriteResult> Repository::create(json::Value resource) {
  return in_tx(db_, [&](store::Conn& c) { return create(c, std::move(resource)); });
}
Result<WriteResult> Repository::update(const std::string& type, const std::string& id, json::Value resource,
                                       const WriteOptions& opt) {
  return in_tx(db_, [&](store::Conn& c) { return update(c, type, id, std::move(resource), opt); });
}
Result<WriteResult> Repository::patch(const std::string& type, const std::string& id, const json::Value& p,
                                      const WriteOptions& opt) {
  return in_tx(db_, [&](store::Conn& c) { return patch(c, type, id, p, opt); });
}
Result<WriteResult> Repository::remove(const std::string& type, const std::string& id, const WriteOptions& opt) {
  return in_tx(db_, [&](store::Conn& c) { return remove(c, type, id, opt); });
}

}  // namespace ef::service
