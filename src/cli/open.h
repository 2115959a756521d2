// cli/open.h — builds the shared pieces (database, repository, indexer) from a config, for
// `serve` and for the offline commands (import, export, reindex) alike.  The database file is
// created when missing, its folder never: a missing folder is an error naming it.
#pragma once
#include <memory>

#include "http/app.h"

namespace ef::cli {

Result<std::unique_ptr<http::App>> open_app(const ServerConfig& cfg);

}  // namespace ef::cli
