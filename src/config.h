// config.h — the server configuration file (JSON) and command-line overrides.
// Owns: defaults, validation with messages naming the key and the problem.  The `auth`
// section is kept raw here and parsed by auth/config.h; `sync` likewise by its module.
#pragma once
#include <cstdint>
#include <string>

#include "util/json.h"
#include "util/status.h"

namespace ef {

struct Limits {
  size_t max_body_bytes = 16 * 1024 * 1024;
  size_t max_json_depth = 64;
  size_t max_bundle_entries = 10000;
  size_t max_query_params = 100;
  size_t max_url_bytes = 8192;
  int read_timeout_seconds = 10;
  int keep_alive_seconds = 5;
  int keep_alive_max_requests = 1000;
  int threads = 0;  // 0 = automatic
  // Hostile-input budgets (README "Limits").
  size_t max_search_params = 100;    // parameters of one search (every route)
  size_t max_or_values = 100;        // comma-separated values of one search parameter
  size_t max_search_values = 1000;   // values of one search, chains expanded
  size_t max_header_bytes = 65536;   // request line + header block of one request
  size_t max_response_bytes = 64 * 1024 * 1024;  // a batch/transaction response
  size_t max_json_values = 1000000;  // JSON values (scalars, arrays, objects) in one body
  int max_write_ms = 2000;           // one request's time holding the writer
  size_t xml_cache_bytes = 8 * 1024 * 1024;  // XML renderings of read resources (fhir/xml_cache.h); 0 = off
  // Terminology (fhir/terminology.h Limits, service/terminology.h cache).
  size_t max_expansion_concepts = 10000;               // concepts in one value set expansion (413 beyond)
  size_t terminology_cache_entries = 256;              // full expansions kept; 0 = no cache
  size_t terminology_cache_bytes = 64 * 1024 * 1024;   // their approximate bytes
};

// The single writer (store/db.h): group commit and its bounds.
struct WriterConfig {
  bool group_commit = true;
  size_t max_group_requests = 64;
  size_t max_group_bytes = 4 * 1024 * 1024;
  int commit_delay_us = 1000;  // only under concurrency (store/db.h)
};

struct ServerConfig {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8080;
  std::string database = "var/edgefhir.db";
  std::string base_url;        // default http://host:port
  std::string durability = "process";  // process | power
  std::string tls_cert, tls_key;
  bool allow_insecure_bearer = false;  // bearer tokens over plain http on a non-loopback listener
  std::string log_level = "info";
  bool log_requests = true;  // one info line per request (http/conventions.h); false turns it off
  std::string validation_on_write = "strict";  // strict | warn | off (validation.on_write)
  Limits limits;
  WriterConfig writer;
  json::Value auth;  // raw "auth" section (object); auth.required defaults to true
  json::Value raw;   // whole file
  std::string path;  // where it was loaded from ("" = defaults)

  bool auth_required() const;
  std::string effective_base_url() const;
};

// Loads a config file; empty path = defaults.  Errors: "config FILE: key 'x': problem".
Result<ServerConfig> load_config(const std::string& path);
Result<ServerConfig> parse_config(const std::string& text, const std::string& path_for_messages);
// "--listen HOST:PORT" override.
Status apply_listen(ServerConfig& c, const std::string& hostport);

}  // namespace ef
