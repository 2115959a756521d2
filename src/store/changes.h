// store/changes.h — what was committed since a point in the global version order, by anyone:
// this process or another one on the same database (an `edgefhir import` while the server
// runs).  Used to invalidate caches derived from stored resources of a few types (the
// terminology expansion cache, service/terminology.h).
//
// Owns: the scan of resource_version rows after a given seq (the rowid: a range scan of only
// the rows committed since the previous scan, so repeated scans cost O(new rows) in all).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "store/db.h"

namespace ef::store {

struct ChangeScan {
  int64_t newest_seq = 0;  // the newest seq of all versions now (unchanged when nothing is new)
  bool touched = false;    // a version of one of the types was committed after `after_seq`
};

// Versions committed after `after_seq` (0: the whole table): the newest seq now, and whether one
// of them is of a type in `types` (at most 8).  When more than `max_scan` rows are new, they are
// not read: touched is true (the caller drops its cache rather than scan a huge import).
Result<ChangeScan> changes_since(Conn& c, int64_t after_seq, const std::vector<std::string>& types,
                                 int64_t max_scan = 100000);

// PRAGMA data_version of this connection: it changes when another connection (of this
// process or another) committed since the last call on the same connection.  Needs no
// transaction: a cheap test before changes_since.
Result<int64_t> data_version(Conn& c);

}  // namespace ef::store
