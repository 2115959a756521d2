// store/reindex.h — the reads behind `edgefhir reindex` (cli/reindex.cpp): walking the current,
// non-deleted resources in rid order, in batches, with their stored JSON, and removing index
// rows that belong to no live resource.  The rows themselves are rewritten with
// Resources::reindex_rows (store/resources.h) in the same write transaction as the batch read,
// so a resource updated by a running server between two batches is either reindexed from its
// new version by this tool or was already indexed by the server's own write.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "store/db.h"

namespace ef::store {

struct StoredResource {
  int64_t rid = 0;
  std::string type, id;
  std::string body;  // JSON of the current version
};

// Current non-deleted resources with rid > after_rid, ordered by rid, at most `limit`.
// `types` empty: every type; otherwise only these.
Result<std::vector<StoredResource>> current_resources_after(Conn& c, int64_t after_rid, size_t limit,
                                                            const std::vector<std::string>& types);

// How many current non-deleted resources (of `types`, empty = all) there are.
Result<int64_t> count_current_resources(Conn& c, const std::vector<std::string>& types);

// Deletes index rows whose rid is not a current, non-deleted resource (left behind by an older
// binary or a manual edit).  Returns the number of rows deleted.
Result<int64_t> delete_orphan_index_rows(Conn& c);

// Number of index rows over all idx_* tables (for the summary).
Result<int64_t> count_index_rows(Conn& c);

}  // namespace ef::store
