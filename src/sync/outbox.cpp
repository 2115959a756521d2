// sync/outbox.cpp — see outbox.h.
#include "sync/outbox.h"

#include <algorithm>
#include <map>

#include "sync/http.h"
#include "util/json.h"

namespace ef::sync {

namespace {

json::ParseOptions resource_parse_options() {
  json::ParseOptions o;
  o.preserve_numbers = true;
  o.max_depth = 200;
  return o;
}

void drop_version_meta(json::Value& v) {
  json::Object* o = json::as_object_mut(v);
  if (!o) return;
  auto it = o->find("meta");
  if (it == o->end()) return;
  if (json::Object* m = json::as_object_mut(it->second)) {
    m->erase("versionId");
    m->erase("lastUpdated");
    if (m->empty()) o->erase(it);
  }
}

std::string printable(const std::string& s, size_t max = 300) {
  std::string out;
  for (char ch : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    unsigned char u = static_cast<unsigned char>(ch);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : ch);
  }
  return out;
}

}  // namespace

std::vector<Entry> coalesce(const std::vector<store::SyncChange>& changes) {
  std::map<std::pair<std::string, std::string>, size_t> last;  // resource -> index of newest change
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, int>> first;  // -> oldest seq, count
  for (size_t i = 0; i < changes.size(); ++i) {
    auto key = std::make_pair(changes[i].type, changes[i].id);
    last[key] = i;
    auto f = first.find(key);
    if (f == first.end()) first[key] = {changes[i].seq, 1};
    else f->second.second++;
  }
  std::vector<Entry> out;
  for (size_t i = 0; i < changes.size(); ++i) {
    const store::SyncChange& ch = changes[i];
    auto key = std::make_pair(ch.type, ch.id);
    if (last[key] != i) continue;
    Entry e;
    e.type = ch.type;
    e.id = ch.id;
    e.seq = ch.seq;
    e.first_seq = first[key].first;
    e.coalesced = first[key].second;
    e.local_version = ch.version;
    e.is_delete = ch.is_delete;
    if (!ch.is_delete) {
      auto b = strip_version_meta(ch.body);
      e.body = b ? *b : ch.body;
    }
    out.push_back(std::move(e));
  }
  return out;
}

int64_t progress_mark(int64_t covered_seq, const std::vector<Entry>& entries, const std::vector<bool>& done) {
  int64_t mark = covered_seq;
  for (size_t i = 0; i < entries.size(); ++i)
    if (i >= done.size() || !done[i]) mark = std::min(mark, entries[i].first_seq - 1);
  return mark;
}

Result<std::string> strip_version_meta(const std::string& body) {
  auto v = json::parse(body, resource_parse_options());
  if (!v) return v.status();
  drop_version_meta(*v);
  return json::write(*v);
}

bool same_content(const std::string& a, const std::string& b) {
  auto va = json::parse(a, resource_parse_options());
  auto vb = json::parse(b, resource_parse_options());
  if (!va || !vb) return false;
  drop_version_meta(*va);
  drop_version_meta(*vb);
  return json::write(*va) == json::write(*vb);
}

std::string make_bundle(const std::vector<Entry>& entries, bool transaction, const std::string& upstream_url) {
  json::Array arr;
  for (const Entry& e : entries) {
    json::Object entry;
    json::Object req;
    req["method"] = json::Value(std::string(e.is_delete ? "DELETE" : "PUT"));
    req["url"] = json::Value(e.type + "/" + e.id);
    if (!e.if_match.empty()) req["ifMatch"] = json::Value("W/\"" + e.if_match + "\"");
    entry["fullUrl"] = json::Value(upstream_url + "/" + e.type + "/" + e.id);
    if (!e.is_delete) {
      auto r = json::parse(e.body, resource_parse_options());
      if (r) entry["resource"] = *r;
    }
    entry["request"] = json::Value(req);
    arr.push_back(json::Value(entry));
  }
  json::Object b;
  b["resourceType"] = json::Value(std::string("Bundle"));
  b["type"] = json::Value(std::string(transaction ? "transaction" : "batch"));
  b["entry"] = json::Value(arr);
  return json::write(json::Value(b));
}

Result<std::vector<EntryResult>> parse_bundle_response(const std::string& body, size_t expected) {
  auto v = json::parse(body, resource_parse_options());
  if (!v) return Status(Err::invalid, "the upstream's Bundle response is not JSON: " + v.status().message);
  if (json::string_or(*v, "resourceType") != "Bundle")
    return Status(Err::invalid, "the upstream answered with a " + printable(json::string_or(*v, "resourceType"), 40) +
                                    " instead of a Bundle");
  const json::Array* entries = json::get_array(*v, "entry");
  size_t n = entries ? entries->size() : 0;
  if (n != expected)
    return Status(Err::invalid, "the upstream's Bundle response has " + std::to_string(n) + " entries for " +
                                    std::to_string(expected) + " requests");
  std::vector<EntryResult> out;
  for (size_t i = 0; i < n; ++i) {
    EntryResult r;
    const json::Value* resp = json::get((*entries)[i], "response");
    if (resp) {
      std::string s = json::string_or(*resp, "status");
      int code = 0;
      size_t k = 0;
      while (k < s.size() && k < 3 && s[k] >= '0' && s[k] <= '9') code = code * 10 + (s[k++] - '0');
      if (k == 3) r.status = code;
      r.version = etag_version(json::string_or(*resp, "etag"));
      if (r.version.empty()) r.version = location_version(json::string_or(*resp, "location"));
      if (const json::Value* oc = json::get(*resp, "outcome")) r.diagnostics = outcome_text(json::write(*oc));
    }
    if (r.version.empty()) {
      // Some servers return the resource with meta.versionId instead of an etag.
      if (const json::Value* res = json::get((*entries)[i], "resource"))
        if (const json::Value* meta = json::get(*res, "meta")) r.version = json::string_or(*meta, "versionId");
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::string outcome_text(const std::string& body) {
  auto v = json::parse(body, resource_parse_options());
  if (!v || json::string_or(*v, "resourceType") != "OperationOutcome") return {};
  const json::Array* issues = json::get_array(*v, "issue");
  if (!issues || issues->empty()) return {};
  const json::Value& i = (*issues)[0];
  std::string d = json::string_or(i, "diagnostics");
  if (d.empty())
    if (const json::Value* det = json::get(i, "details")) d = json::string_or(*det, "text");
  if (d.empty()) d = json::string_or(i, "code");
  return printable(d);
}

}  // namespace ef::sync
