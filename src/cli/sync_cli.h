// cli/sync_cli.h — `edgefhir sync status|now|conflicts` (issue 9), and reading the "sync"
// section out of a ServerConfig for `serve`.
//   status     queue length, oldest unsent change, last success, last error, upstream,
//              conflicts (--json for a machine-readable object)
//   now        push synchronously until the queue is empty or an error (exit 0 only when
//              everything was acknowledged)
//   conflicts  the recorded conflicts and refused changes, newest first (--limit N)
// All take --config FILE and --database PATH.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "config.h"
#include "sync/sync_config.h"

namespace ef::sync {

// The "sync" section of a loaded configuration (disabled when absent).
Result<SyncConfig> sync_config_of(const ServerConfig& cfg);

int sync_cli(std::vector<std::string> args, std::ostream& out, std::ostream& err);

}  // namespace ef::sync
