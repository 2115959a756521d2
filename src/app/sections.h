// app/sections.h — every section of the configuration file that the core parser (config.h)
// leaves as raw JSON, parsed and validated at start-up, before the database is opened or
// created: auth (issuers, policy), export, audit, metrics, cors, console and sync.  A bad
// value in any of them stops start-up with a message naming the config file and the key
// ("config x.json: export.retention_seconds: must be a whole number ..."), instead of
// showing up later as a 500 on the first request that reads it.
#pragma once
#include "config.h"
#include "http/cors.h"
#include "service/export_engine.h"
#include "store/audit.h"
#include "sync/sync_config.h"

namespace ef::app {

struct Sections {
  service::ExportOptions exports;
  store::AuditOptions audit;
  bool metrics_public = false;
  http::CorsConfig cors;
  bool console_enabled = true;
  sync::SyncConfig sync;
};

// The auth checks that need no database (the auth section parses, issuers are listed when
// auth is required, the policy is valid).
Status check_auth_config(const ServerConfig& cfg);
// All of the above; errors are ready to print after "edgefhir: ".
Result<Sections> check_sections(const ServerConfig& cfg);

}  // namespace ef::app
