// sync/pull_logic.cpp — see pull_logic.h.
#include "sync/pull_logic.h"

#include <algorithm>

#include "fhir/resource.h"
#include "util/time.h"

namespace ef::sync {

namespace {

json::ParseOptions page_options() {
  json::ParseOptions o;
  o.preserve_numbers = true;  // FHIR decimals keep their precision
  o.max_depth = 200;
  return o;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos;
}

std::string printable(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (out.size() >= 120) return out + "...";
    unsigned char u = static_cast<unsigned char>(ch);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : ch);
  }
  return out;
}

Result<json::Value> bundle_of(const std::string& body, const char* want) {
  auto v = json::parse(body, page_options());
  if (!v) return Status(Err::invalid, "the upstream's page is not JSON: " + v.status().message);
  if (json::string_or(*v, "resourceType") != "Bundle")
    return Status(Err::invalid, "the upstream answered with a " + printable(json::string_or(*v, "resourceType")) +
                                    " instead of a Bundle");
  if (json::string_or(*v, "type") != want)
    return Status(Err::invalid, "the upstream's Bundle is of type '" + printable(json::string_or(*v, "type")) +
                                    "', expected '" + want + "'");
  return v;
}

std::string next_of(const json::Value& b) {
  if (const json::Array* links = json::get_array(b, "link"))
    for (const json::Value& l : *links)
      if (json::string_or(l, "relation") == "next") return json::string_or(l, "url");
  return {};
}

int64_t instant_ms(const std::string& s) {
  auto r = timefmt::parse_fhir_time(s);
  return r ? r->lo_ms : 0;
}

}  // namespace

Result<std::string> next_link_path(const std::string& link, const Endpoint& ep) {
  auto u = net::parse_url(link);
  auto refuse = [&](const std::string& why) {
    return Status(Err::invalid, "the upstream's next link '" + printable(link) + "' " + why +
                                    "; it is not followed (the edge's token goes only to " + ep.url() + ")");
  };
  if (!u) return refuse("is not an absolute http(s) URL");
  if (u->origin() != ep.origin()) return refuse("is not on the upstream's origin " + ep.origin());
  const std::string& p = u->path;
  if (p.compare(0, ep.base_path.size(), ep.base_path) != 0) return refuse("is outside the upstream's base path");
  std::string rest = p.substr(ep.base_path.size());
  if (rest.empty() || (rest[0] != '/' && rest[0] != '?')) return refuse("is outside the upstream's base path");
  if (rest.find("/../") != std::string::npos || rest.find("/./") != std::string::npos ||
      rest.find_first_of("\r\n #") != std::string::npos || rest.find('\\') != std::string::npos)
    return refuse("has a path that is not plain");
  return rest;
}

std::string search_path(const PullQuery& q, int64_t cursor_ms, int overlap_seconds, int page_size) {
  std::string p = "/" + q.type + "?" + q.query + (q.query.empty() ? "" : "&") + "_sort=_lastUpdated&_count=" +
                  std::to_string(page_size);
  if (cursor_ms > 0) {
    int64_t since = std::max<int64_t>(1, cursor_ms - int64_t(overlap_seconds) * 1000);
    p += "&_lastUpdated=" + query_encode("ge" + timefmt::format_instant(since));
  }
  return p;
}

std::string history_path(const std::string& type, int64_t since_ms, int overlap_seconds, int page_size) {
  int64_t since = std::max<int64_t>(1, since_ms - int64_t(overlap_seconds) * 1000);
  return "/" + type + "/_history?_since=" + query_encode(timefmt::format_instant(since)) +
         "&_count=" + std::to_string(page_size);
}

bool already_have(const std::optional<std::string>& known, const std::string& incoming) {
  if (!known || incoming.empty()) return false;
  if (*known == incoming) return true;
  if (all_digits(*known) && all_digits(incoming)) return std::stoll(incoming) <= std::stoll(*known);
  return false;
}

Result<PulledPage> parse_search_page(const std::string& body, const std::string& type) {
  auto b = bundle_of(body, "searchset");
  if (!b) return b.status();
  PulledPage out;
  out.next = next_of(*b);
  const json::Array* entries = json::get_array(*b, "entry");
  if (!entries) return out;
  for (size_t i = 0; i < entries->size(); ++i) {
    const json::Value& e = (*entries)[i];
    std::string where = "entry[" + std::to_string(i) + "]";
    if (const json::Value* s = json::get(e, "search")) {
      std::string mode = json::string_or(*s, "mode");
      if (!mode.empty() && mode != "match") continue;  // outcome / include: never stored
    }
    const json::Value* r = json::get(e, "resource");
    if (!r || !json::is_object(*r)) return Status(Err::invalid, "the upstream's page " + where + " has no resource");
    Pulled p;
    p.type = json::string_or(*r, "resourceType");
    if (p.type != type)
      return Status(Err::invalid, "the upstream's page " + where + " is a " + printable(p.type) + ", the search was for " + type);
    p.id = json::string_or(*r, "id");
    if (!fhir::valid_id(p.id)) return Status(Err::invalid, "the upstream's page " + where + " has no valid id");
    const json::Value* meta = json::get(*r, "meta");
    if (meta) {
      p.version = json::string_or(*meta, "versionId");
      p.last_updated = instant_ms(json::string_or(*meta, "lastUpdated"));
    }
    if (p.last_updated <= 0)
      return Status(Err::invalid, "the upstream's page " + where + " (" + type + "/" + p.id +
                                      ") has no meta.lastUpdated: the incremental cursor needs it");
    if (p.version.size() > 64) return Status(Err::invalid, "the upstream's page " + where + " has an overlong versionId");
    p.resource = *r;
    out.entries.push_back(std::move(p));
  }
  return out;
}

Result<PulledPage> parse_history_page(const std::string& body, const std::string& type) {
  auto b = bundle_of(body, "history");
  if (!b) return b.status();
  PulledPage out;
  out.next = next_of(*b);
  const json::Array* entries = json::get_array(*b, "entry");
  if (!entries) return out;
  for (size_t i = 0; i < entries->size(); ++i) {
    const json::Value& e = (*entries)[i];
    Pulled p;
    p.type = type;
    const json::Value* rq = json::get(e, "request");
    const json::Value* rs = json::get(e, "response");
    std::string method = rq ? json::string_or(*rq, "method") : std::string();
    std::string url = rq ? json::string_or(*rq, "url") : std::string();
    p.deleted = method == "DELETE";
    if (rs) {
      p.version = etag_version(json::string_or(*rs, "etag"));
      p.last_updated = instant_ms(json::string_or(*rs, "lastModified"));
    }
    if (const json::Value* r = json::get(e, "resource")) {
      if (p.id.empty()) p.id = json::string_or(*r, "id");
      if (const json::Value* meta = json::get(*r, "meta")) {
        if (p.version.empty()) p.version = json::string_or(*meta, "versionId");
        if (p.last_updated <= 0) p.last_updated = instant_ms(json::string_or(*meta, "lastUpdated"));
      }
    }
    if (p.deleted) {
      // request.url is "Type/id" (possibly absolute or with a version).
      std::string u = url;
      if (size_t h = u.find("/_history"); h != std::string::npos) u.erase(h);
      size_t slash = u.rfind('/');
      std::string id = slash == std::string::npos ? std::string() : u.substr(slash + 1);
      std::string t = slash == std::string::npos ? u : u.substr(0, slash);
      if (size_t s2 = t.rfind('/'); s2 != std::string::npos) t = t.substr(s2 + 1);
      if (t != type || !fhir::valid_id(id))
        return Status(Err::invalid, "the upstream's history entry[" + std::to_string(i) + "] deletes '" + printable(url) +
                                        "', not a " + type);
      p.id = id;
    }
    out.entries.push_back(std::move(p));
  }
  return out;
}

}  // namespace ef::sync
