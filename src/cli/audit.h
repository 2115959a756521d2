// cli/audit.h — `edgefhir audit`: read the audit trail from the command line.
//
//   edgefhir audit [--since T] [--who X] [--limit N] [--json]
//     --since T   only events at or after T: an ISO date/time ("2026-03-01",
//                 "2026-03-01T10:00:00Z") or a duration back from now: 90s, 15m, 1h, 2d, 1w
//     --who X     subject (oid/sub) or client id containing X (case-insensitive)
//     --limit N   at most N events, the most recent ones (default 50, max 100000)
//     --json      a JSON array instead of the table
// The table lists events oldest first so the newest is nearest the prompt.
// Exit status: 0 ok, 1 the database could not be read, 2 bad usage.
#pragma once
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "store/audit.h"
#include "store/db.h"
#include "util/clock.h"

namespace ef::cli {

// The --help text.
const char* audit_usage();
// On an open database; args are the words after "audit" and the common flags
// (audit_main in commands.h parses those and opens the database).
int audit_on(const std::vector<std::string>& args, store::Database& db, std::ostream& out, std::ostream& err);
int audit_on(const std::vector<std::string>& args, store::Database& db, std::ostream& out, std::ostream& err,
              const Clock& clock);

// --since values: ISO date/time or a relative duration (see above); nullopt when malformed.
std::optional<int64_t> parse_since(const std::string& text, int64_t now_ms);

// One event as JSON (empty fields omitted; "time" as a FHIR instant).
json::Value audit_event_json(const store::AuditEvent& e);

}  // namespace ef::cli
