// store/export_jobs.h — Bulk Data export jobs (table export_job, migration 8) and the
// read-side scan the export worker uses (https://hl7.org/fhir/uv/bulkdata/export.html).
//
// Owns: the ExportJob record and its rows (one per kick-off request: what was asked, who
// asked, the state, the output manifest once done), and scan_export(): current resources of
// one type in rid order, optionally limited to the Patient compartment (of all patients or
// of a given list), stored JSON returned verbatim for the NDJSON files.
// The NDJSON files themselves live in a directory next to the database (http/export.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/db.h"
#include "util/status.h"

namespace ef::store {

// State of a job: queued -> running -> done | failed.  A cancelled job's row is deleted.
struct ExportJob {
  std::string id;
  std::string status = "queued";  // queued | running | done | failed
  std::string request;            // the kick-off URL (manifest "request")
  std::string level;              // system | patient | group
  std::string group_id;           // level group
  std::vector<std::string> types; // empty: every type the level allows
  int64_t since_ms = -1;          // _since, -1 none
  std::string owner;              // who may poll / download ("" when auth is off)
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  int64_t transaction_ms = 0;     // manifest transactionTime
  std::string output_json;        // manifest "output" array (JSON text), when done
  std::string error;              // when failed (safe for clients)
  int64_t expires_ms = 0;         // 0: never; finished jobs are removed after this
};

Status insert_export_job(Conn& c, const ExportJob& j);
Result<std::optional<ExportJob>> get_export_job(Conn& c, const std::string& id);
Status update_export_job(Conn& c, const ExportJob& j);  // every column but id/created
Status delete_export_job(Conn& c, const std::string& id);
// Jobs in a state, oldest first.
Result<std::vector<ExportJob>> export_jobs_with_status(Conn& c, const std::string& status);
// Finished (done/failed) jobs whose expires_ms is set and <= now_ms.
Result<std::vector<ExportJob>> expired_export_jobs(Conn& c, int64_t now_ms);
Result<int64_t> count_active_export_jobs(Conn& c);  // queued + running

struct ExportRow {
  int64_t rid = 0;
  std::string id;
  std::string body;
};

struct ExportScan {
  std::string type;
  int64_t after_rid = 0;          // keyset: rows with rid > after_rid
  int64_t since_ms = -1;          // last_updated >= since_ms
  int64_t until_ms = -1;          // last_updated <= until_ms (transactionTime), -1 none
  bool compartment = false;       // only resources in some Patient's compartment
  std::vector<std::string> patients;  // with compartment: only these patients' (empty = any)
  int limit = 1000;
};

// One batch of current, non-deleted resources of scan.type in rid order.  For type Patient
// with compartment=true, `patients` (when given) lists the ids to return.  A type outside the
// Patient compartment yields nothing when compartment=true.
Result<std::vector<ExportRow>> scan_export(Conn& c, const ExportScan& scan);

}  // namespace ef::store
