// service/import.h — the bulk import engine behind `edgefhir import` (cli/import.cpp is its
// thin front-end): loads FHIR data from files and folders into the database without a server.
//
//   *.json    a resource (update-or-create by its id; created with a new id when it has none),
//             or a Bundle: transaction / batch Bundles run as they would on POST [base]
//             (service/bundle_processor.h) except that a POST entry with a urn:uuid fullUrl
//             writes Type/<uuid> (ids_from_urn), so Synthea-style bundles import idempotently;
//             any other Bundle type (collection, searchset, document, ...) is loaded as one
//             transaction of its entries (PUT Type/id when the resource has an id, else POST).
//   *.ndjson  one resource per line (Bulk Data format), in chunks of kChunk lines; a chunk
//             that fails is retried line by line so only the bad lines fail.
//   folders   recursively, files in name order; other file names are skipped.
//
// Speed: files are written in groups of about kGroup resources per SQLite transaction (see
// Importer::run); a group in which anything fails is run again with every unit (file, Bundle,
// batch entry, NDJSON chunk or line) under a SAVEPOINT, so a failure undoes only that unit.
// While this thread writes one file, the next one is read, parsed and -- for a transaction
// Bundle of plain creates -- prepared on another thread (BundleProcessor::prepare_import:
// references rewritten, resources stamped, serialised and indexed), so this thread mostly
// runs SQLite; the JSON trees never cross threads (freeing another thread's allocations cost
// as much as the work moved, measured).  Anything else goes through the general path here.
//
// Resumable: every write is an update-or-create, and an update identical to the stored version
// makes no new version (service/repository.h), so re-running an import (e.g. after an interrupt)
// only writes what is missing.  A bad file, line or entry is reported to the ImportReporter as
// "FILE:LINE: message" ("FILE: entry N (...): message" inside a Bundle) and the rest goes on.
// Imports run with unrestricted access (an operator's command, not a request).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "service/bundle_processor.h"
#include "service/repository.h"
#include "store/db.h"
#include "util/clock.h"

namespace ef::service {

using SteadyClock = std::chrono::steady_clock;

struct ImportStats {
  int64_t stored = 0, unchanged = 0, failed = 0;
  uint64_t bytes_total = 0, bytes_done = 0;
  SteadyClock::time_point start = SteadyClock::now();
  double seconds() const { return std::chrono::duration<double>(SteadyClock::now() - start).count(); }
  int64_t resources() const { return stored + unchanged; }
};

// Where problems and progress go (the CLI prints them; tests may collect them).
class ImportReporter {
 public:
  virtual ~ImportReporter() = default;
  virtual void problem(const std::string& message) = 0;
  virtual void progress(const ImportStats& stats) = 0;
};

struct ImportLimits {
  std::string base_url;
  size_t max_bundle_entries = 0;
  size_t max_json_depth = 0;
};

// Files named on the command line are taken whatever their name (top = true); folders
// contribute only *.json and *.ndjson files, recursively, in name order.
void collect_import_files(const std::string& path, bool top, std::vector<std::string>* files);

class Importer {
 public:
  // db, repo and clock must outlive the importer; bp is the service's BundleProcessor.
  Importer(store::Database& db, Repository& repo, BundleProcessor bp, const Clock& clock, const ImportLimits& lim,
           ImportReporter& reporter);
  ~Importer();
  // Imports `files` (collect_import_files), reporting problems and progress as it goes.
  void run(const std::vector<std::string>& files);
  ImportStats& stats() { return stats_; }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  ImportStats stats_;
};

}  // namespace ef::service
