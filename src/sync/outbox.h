// sync/outbox.h — turning a run of committed changes (store::SyncChange, seq order) into
// what is sent upstream, and back.  Pure functions, no I/O:
//   coalesce()      keeps only the newest change of each resource in the run, ordered by
//                   the seq of that newest change (commit order is preserved: a resource
//                   changed again later moves to where its last change happened);
//   progress_mark() the highest seq that may be recorded as pushed when some entries were
//                   acknowledged and others not (conservative: an unacknowledged entry holds
//                   the mark just before its OLDEST change in the run);
//   make_bundle()   a FHIR transaction or batch Bundle with PUT Type/id (idempotent on
//                   replay) and DELETE Type/id, ifMatch = the upstream version last seen;
//   parse_bundle_response(), same_content(), outcome_text(): reading the upstream's answers.
// Bodies are sent without the edge's meta.versionId / meta.lastUpdated: those are the
// edge's numbering and the upstream assigns its own.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "store/sync_state.h"
#include "util/status.h"

namespace ef::sync {

struct Entry {
  std::string type, id;
  int64_t seq = 0;        // seq of the change sent (the newest of this resource in the run)
  int64_t first_seq = 0;  // seq of the oldest change of this resource in the run
  int64_t local_version = 0;
  bool is_delete = false;
  std::string body;       // JSON to PUT (edge meta stamps removed); empty for a delete
  std::string if_match;   // upstream version expected ("" = none known: no precondition)
  int coalesced = 1;      // changes of the run this entry stands for
  std::string path() const { return "/" + type + "/" + id; }
};

std::vector<Entry> coalesce(const std::vector<store::SyncChange>& changes);

// `done[i]` says entries[i] was handled (acknowledged, or recorded as conflict/rejected).
int64_t progress_mark(int64_t covered_seq, const std::vector<Entry>& entries, const std::vector<bool>& done);

// The resource JSON without meta.versionId and meta.lastUpdated (meta dropped if then empty).
Result<std::string> strip_version_meta(const std::string& body);
// Same content apart from id-independent version stamps (meta.versionId/lastUpdated).
bool same_content(const std::string& a, const std::string& b);

std::string make_bundle(const std::vector<Entry>& entries, bool transaction, const std::string& upstream_url);

struct EntryResult {
  int status = 0;           // from response.status "201 Created"; 0 when unreadable
  std::string version;      // from response.etag or response.location ("" unknown)
  std::string diagnostics;  // from response.outcome, for failures
};
// Reads a transaction-response / batch-response Bundle; `expected` entries.
Result<std::vector<EntryResult>> parse_bundle_response(const std::string& body, size_t expected);
// First issue's diagnostics (or details.text / code) of an OperationOutcome body, bounded,
// printable; "" when the body is not one.
std::string outcome_text(const std::string& body);

}  // namespace ef::sync
