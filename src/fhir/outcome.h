// fhir/outcome.h — OperationOutcome and Bundle construction (JSON only, no HTTP).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "util/json.h"
#include "util/status.h"

namespace ef::fhir {

struct Issue {
  std::string severity = "error";  // fatal | error | warning | information
  std::string code = "processing"; // FHIR issue-type code
  std::string diagnostics;
  std::string expression;
};

json::Value operation_outcome(const std::vector<Issue>& issues);
json::Value operation_outcome(const Issue& issue);

// A Bundle entry as raw JSON text (resource bodies are spliced in verbatim, never re-parsed).
struct BundleEntry {
  std::string full_url;
  std::string resource_json;   // may be empty
  std::string search_mode;     // match | include | outcome (searchset only)
  std::string request_method;  // history/transaction-response: request.method
  std::string request_url;
  std::string response_status; // "201 Created"
  std::string response_location, response_etag, response_last_modified;
  std::string response_outcome_json;
};

struct BundleLink {
  std::string relation, url;
};

// Writes a Bundle as JSON text.  total < 0 omits total.
std::string write_bundle(const std::string& type, int64_t total, const std::vector<BundleLink>& links,
                         const std::vector<BundleEntry>& entries, int64_t timestamp_ms, bool pretty,
                         const std::string& id = {});

}  // namespace ef::fhir
