// app/build.h — the one place that builds a running server from a parsed configuration.
//   open_app      the data pieces (database, resources + indexer, repository with the
//                 on-write validation, service), for `serve` and for the offline commands
//                 (import, export, reindex), tests and fuzz targets alike.  The database
//                 file is created when missing, its folder never: a missing folder is an
//                 error naming it.
//   wire_server   the rest of a serving App, from sections checked at start-up
//                 (app/sections.h): authentication (key store, refresher, validator,
//                 policy, App::authenticate), audit, /metrics, CORS, console, sync and
//                 the export engine.  Called after the listener is bound (App::base_url
//                 then names the port actually bound).
// The object graph and its shutdown order are stated in http/app.h.  `serve` (cli/serve.cpp)
// only parses flags, binds, runs and handles signals.
#pragma once
#include <memory>

#include "app/sections.h"
#include "http/app.h"

namespace ef::app {

Result<std::unique_ptr<http::App>> open_app(const ServerConfig& cfg);

// The database options of a configuration (durability, the writer section), for open_app and
// for commands that open the database themselves (`sync`).
store::DbOptions db_options(const ServerConfig& cfg);

// Authentication only (part of wire_server).
Status setup_auth(http::App& app);

// Everything else a serving App needs; errors are ready to print after "edgefhir: ".
// `exit_code` is set to the exit status `serve` should use on failure (2 config, 1 runtime).
Status wire_server(http::App& app, const Sections& sections, int* exit_code);

// After the listener stopped: stops the background workers in the order stated in
// http/app.h (export engine, sync, audit flush, key refresher) and checkpoints the WAL.
// The App is still valid afterwards (destroying it releases the rest).
void stop_server(http::App& app);

}  // namespace ef::app
