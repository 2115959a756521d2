// http/history.cpp — history for an instance, a type and the whole system:
// https://hl7.org/fhir/R4/http.html#history
// Newest first; `_since`, `_at`, `_count`; paging with a `_cursor` (the commit sequence
// number of the last entry shown) so pages stay correct while new versions arrive.
#include "fhir/outcome.h"
#include "http/handlers.h"
#include "http/url.h"
#include "util/time.h"

namespace ef::http {

void handle_history(Ctx& c, const std::string& type, const std::string& id) {
  c.interaction = id.empty() ? (type.empty() ? "history-system" : "history-type") : "history-instance";
  store::HistoryQuery q;
  q.type = type;
  q.id = id;
  std::string since = c.param("_since");
  if (!since.empty()) {
    auto t = timefmt::parse_fhir_time(since);
    if (!t) return send_error(c, Status(Err::invalid, "_since '" + since + "' is not a FHIR instant"));
    q.since_ms = t->lo_ms;
  }
  std::string at = c.param("_at");
  if (!at.empty()) {
    auto t = timefmt::parse_fhir_time(at);
    if (!t) return send_error(c, Status(Err::invalid, "_at '" + at + "' is not a FHIR date/time"));
    q.at_or_before_ms = t->hi_ms - 1;
  }
  std::string count = c.param("_count");
  if (!count.empty()) {
    if (count.find_first_not_of("0123456789") != std::string::npos || count.size() > 6)
      return send_error(c, Status(Err::invalid, "_count '" + count + "' is not a whole number"));
    q.count = std::min(std::max(std::stoi(count), 0), 1000);
  }
  std::string cursor = c.param("_cursor");
  if (!cursor.empty()) {
    if (cursor.find_first_not_of("0123456789") != std::string::npos || cursor.size() > 18)
      return send_error(c, Status(Err::invalid, "_cursor '" + cursor + "' is not valid"));
    q.before_seq = std::stoll(cursor);
  }
  auto page = c.app.service->history(*c.access, q);
  if (!page) return send_error(c, page.status());
  std::vector<store::Version>* rows = &page->versions;
  bool more = page->more;
  int64_t total = page->total;

  std::string path = c.app.base_url + (type.empty() ? "" : "/" + type) + (id.empty() ? "" : "/" + id) + "/_history";
  std::vector<std::pair<std::string, std::string>> params;
  if (!since.empty()) params.emplace_back("_since", since);
  if (!at.empty()) params.emplace_back("_at", at);
  params.emplace_back("_count", std::to_string(q.count));
  std::vector<fhir::BundleLink> links;
  auto self = params;
  if (!cursor.empty()) self.emplace_back("_cursor", cursor);
  links.push_back({"self", with_query(path, self)});
  if (more && !rows->empty()) {
    auto next = params;
    next.emplace_back("_cursor", std::to_string(rows->back().seq));
    links.push_back({"next", with_query(path, next)});
  }
  std::vector<fhir::BundleEntry> entries;
  entries.reserve(rows->size());
  for (const store::Version& v : *rows) {
    fhir::BundleEntry e;
    e.full_url = c.app.base_url + "/" + v.type + "/" + v.id;
    e.resource_json = v.body;
    e.request_method = v.method;
    e.request_url = v.method == "POST" ? v.type : v.type + "/" + v.id;
    if (v.is_delete()) e.response_status = "204 No Content";
    else e.response_status = v.version == 1 ? "201 Created" : "200 OK";
    e.response_etag = etag(v.version);
    e.response_last_modified = timefmt::format_instant(v.last_updated);
    entries.push_back(std::move(e));
  }
  send_json(c, 200, fhir::write_bundle("history", total, links, entries, c.app.clock->now_ms(), false));
}

}  // namespace ef::http
