// http/history.cpp — history for an instance, a type and the whole system:
// https://hl7.org/fhir/R4/http.html#history
// Newest first; `_since`, `_at`, `_count`; paging with a `_cursor` (the commit sequence
// number of the last entry shown) so pages stay correct while new versions arrive.
// `_summary` / `_elements` reduce every version shown, as on read (http/conventions.h).
#include "fhir/outcome.h"
#include "http/conventions.h"
#include "http/handlers.h"
#include "http/operations.h"
#include "http/url.h"
#include "util/time.h"

namespace ef::http {

void handle_history(Ctx& c, const std::string& type, const std::string& id) {
  c.interaction = id.empty() ? (type.empty() ? "history-system" : "history-type") : "history-instance";
  auto given = operation_params(c);
  if (!given) return send_error(c, given.status());
  auto hq = service::parse_history_query(type, id, *given);
  if (!hq) return send_error(c, hq.status());
  const store::HistoryQuery& q = *hq;
  const std::string since = c.param("_since"), at = c.param("_at"), cursor = c.param("_cursor");
  auto subset = parse_subset(c);
  if (!subset) return send_error(c, subset.status());
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
  params.insert(params.end(), subset->link_params.begin(), subset->link_params.end());
  std::string next = more && !rows->empty() ? std::to_string(rows->back().seq) : std::string();
  std::vector<fhir::BundleLink> links = paging_links(path, params, cursor, "", next, /*with_first=*/false);
  std::vector<fhir::BundleEntry> entries = service::history_entries(*rows, c.app.base_url);
  for (fhir::BundleEntry& e : entries) subset->apply(e.resource_json);
  send_json(c, 200, fhir::write_bundle("history", total, links, entries, c.app.clock->now_ms(), false));
}

}  // namespace ef::http
