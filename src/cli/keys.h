// cli/keys.h — `edgefhir keys ...`: inspect and manage the signing-key cache.
//
//   keys list [--json]            every issuer's keys (kid, alg, type, source, age,
//                                 thumbprint, trust status) and fetch state
//   keys refresh [ISSUER]         fetch now (synchronously) and print the result
//   keys pin ISSUER FILE [--kid KID]   pin a PEM key / certificate / JWK / JWKS (source pinned)
//   keys unpin ISSUER KID|THUMBPRINT   remove a pinned or imported key
//   keys export FILE              JSON bundle of the trusted public keys per issuer
//   keys import FILE              load such a bundle (source imported: behaves like a pin)
// The bundle moves keys from a connected device to a disconnected one:
//   {"edgefhir_key_bundle": 1, "exported_at": "...",
//    "issuers": [{"issuer": "https://...", "keys": [<public JWK>, ...]}]}
// FILE "-" is stdin/stdout.  Exit status: 0 ok, 1 failure, 2 usage error.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "auth/config.h"
#include "store/db.h"

namespace ef::cli {

// On an open database (keys_main in commands.h loads the config and opens it).
// args start with the sub-subcommand ("list", "refresh", ...); "--help" anywhere prints help.
int keys_on(const std::vector<std::string>& args, const auth::AuthConfig& cfg, store::Database& db, std::ostream& out,
             std::ostream& err);

// For callers that should not open the database just to print help: true when args ask
// for help (or name no command); then keys_help prints it and returns the exit status.
bool keys_wants_help(const std::vector<std::string>& args);
int keys_help(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

extern const char* const kKeysHelp;

}  // namespace ef::cli
