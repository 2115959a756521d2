// sync/sync_config.h — the "sync" section of the server configuration (issue 9), parsed and
// checked.  Shape (defaults shown; only "upstream" is required):
//   {"enabled": true,
//    "upstream": "https://fhir.example.org",           // FHIR base URL (https; http only to loopback)
//    "token_url": "https://login.../oauth2/v2.0/token", // OAuth 2.0 client credentials; null = no token
//    "client_id": "...",
//    "client_auth": "client_secret_basic",   // | "client_secret_post" | "private_key_jwt"
//    "client_secret_file": "certs/sync-secret",          // for client_secret_*
//    "client_key_file": null, "client_key_id": null, "client_key_alg": null,  // for private_key_jwt
//    "scope": "https://fhir.example.org/.default", "resource": null,
//    "interval_seconds": 10, "batch_size": 100, "types": null,
//    "conflict_policy": "edge-wins",          // | "upstream-wins" | "skip-and-report" | "manual"
//    "max_queue": 100000,                     // queue length above which /health warns
//    "bundle": "auto",                        // | "transaction" | "batch" | "none" (one request per change)
//    "ca_file": null, "timeout_seconds": 30,
//    "backoff_initial_seconds": 1, "backoff_max_seconds": 300,
//    "pull": [{"search": "Patient?organization=Organization/clinic-1", "interval_seconds": 60}],
//    "pull_page_size": 500, "pull_max_page_bytes": 33554432, "pull_max_pages_per_run": 1000,
//    "pull_overlap_seconds": 10, "pull_max_age_seconds": 3600}
// A pull search is checked like a strict local search of its type (unknown parameters refused);
// _count, _sort, _cursor, _include, _revinclude, _summary, _elements, _total, _lastUpdated and
// _format are refused: the puller sets paging and the cursor itself, and a subsetted or
// included resource must never be stored as if it were the whole upstream resource.
// Errors name the key: "config FILE: key 'sync.batch_size': must be a whole number from 1 to 10000".
// Relative file paths are resolved against base_dir when given (else the working directory).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "config.h"
#include "util/json.h"
#include "util/status.h"

namespace ef::sync {

enum class ConflictPolicy { edge_wins, skip_and_report, upstream_wins, manual };
enum class BundleMode { auto_detect, transaction, batch, none };
enum class ClientAuth { secret_basic, secret_post, private_key_jwt };

// One mirrored upstream search (sync.pull[i]).
struct PullQuery {
  std::string search;  // as configured: "Patient?organization=Organization/clinic-1"
  std::string type;    // "Patient"
  std::string query;   // "organization=Organization%2Fclinic-1" (re-encoded), "" = every resource
  int interval_seconds = 60;
};

struct SyncConfig {
  bool enabled = false;  // true when the section is present and not "enabled": false
  std::string upstream;  // no trailing slash
  std::string token_url;
  std::string client_id;
  ClientAuth client_auth = ClientAuth::secret_basic;
  std::string client_secret_file;
  std::string client_key_file, client_key_id, client_key_alg;
  std::string scope;
  std::string resource;
  int interval_seconds = 10;
  int batch_size = 100;
  std::vector<std::string> types;  // empty = every type
  ConflictPolicy conflict_policy = ConflictPolicy::edge_wins;
  int64_t max_queue = 100000;
  BundleMode bundle = BundleMode::auto_detect;
  std::string ca_file;
  int timeout_seconds = 30;
  int backoff_initial_seconds = 1;
  int backoff_max_seconds = 300;
  std::vector<PullQuery> pull;      // empty = push only
  int pull_page_size = 500;         // _count of each upstream page (max 1000)
  int64_t pull_max_page_bytes = 32 << 20;  // larger upstream pages are refused (the run fails)
  int pull_max_pages_per_run = 1000;       // a run stops there; the next continues from the cursor
  int pull_overlap_seconds = 10;    // incremental searches start this long before the cursor
  int64_t pull_max_age_seconds = 3600;  // /health warns when a pull has not succeeded for longer

  bool uses_token() const { return !token_url.empty(); }
};

const char* to_string(ConflictPolicy p);
const char* to_string(BundleMode m);
const char* to_string(ClientAuth a);

// `sync` is the value of the "sync" member (null or absent = disabled).  `where` prefixes
// messages ("config FILE").
Result<SyncConfig> parse_sync_config(const json::Value* sync, const std::string& where,
                                     const std::string& base_dir = {});

// Checks q.search (see the top of this file) and fills q.type and q.query; the message is
// the problem only (the caller names the key).
Status parse_pull_search(PullQuery& q);
// Percent-encoding of a query-string name or value (keeps FHIR's , : | $ readable).
std::string query_encode(const std::string& s);

// The "sync" section of a loaded configuration (disabled when absent).
Result<SyncConfig> sync_config_of(const ServerConfig& cfg);

}  // namespace ef::sync
