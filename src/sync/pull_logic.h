// sync/pull_logic.h — the pure decisions of the pull side of sync (issue 22), no I/O:
//   next_link_path()   a Bundle `next` link reduced to a path under the upstream's base, or an
//                      error when it points anywhere else (another scheme, host, port or base
//                      path): the edge's token is sent only to the configured upstream;
//   search_path()      the upstream search of one run: the configured query, _sort=_lastUpdated,
//                      _count, and _lastUpdated=ge(cursor - overlap) once a cursor exists;
//   history_path()     Type/_history?_since=(since - overlap) for upstream deletions;
//   already_have()     de-duplication by version: the upstream version is the one recorded,
//                      or (numeric versions) not newer than it;
//   parse_search_page() / parse_history_page(): the matched resources of a searchset page, the
//                      deletions of a history page, each with id, version and lastUpdated
//                      (remote input: shape checked, types checked, fail closed).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sync/http.h"
#include "sync/sync_config.h"
#include "util/json.h"
#include "util/status.h"

namespace ef::sync {

Result<std::string> next_link_path(const std::string& link, const Endpoint& ep);
std::string search_path(const PullQuery& q, int64_t cursor_ms, int overlap_seconds, int page_size);
std::string history_path(const std::string& type, int64_t since_ms, int overlap_seconds, int page_size);
bool already_have(const std::optional<std::string>& known, const std::string& incoming);

struct Pulled {
  std::string type, id;
  std::string version;      // upstream meta.versionId / history ETag ("" when the upstream gave none)
  int64_t last_updated = 0; // ms
  bool deleted = false;     // history: a DELETE entry
  json::Value resource;     // the matched resource (search pages)
};

struct PulledPage {
  std::vector<Pulled> entries;  // search: matches in page order; history: every entry, newest first
  std::string next;             // the `next` link as given ("" = last page)
};

Result<PulledPage> parse_search_page(const std::string& body, const std::string& type);
Result<PulledPage> parse_history_page(const std::string& body, const std::string& type);

}  // namespace ef::sync
