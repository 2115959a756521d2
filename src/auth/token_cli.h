// auth/token_cli.h — the `edgefhir token ...` subcommands for operators and developers:
//   token inspect [TOKEN|-]                 decode offline (like jwt.ms), human times, summary
//   token inspect --config FILE [TOKEN|-]   run the full validation with the config's pinned
//                                           keys / HMAC secret and print every check
//   token mint --key PEM | --secret-file F  sign a token (demo / testing)
//   token keygen --out PRIV.pem --pub PUB.pem [--type ec|ec384|ec521|rsa]
// `args` are the words after "token" (a leading "token" is skipped too).  Output goes to
// `out`, problems to `err`.  Exit codes: 0 ok/valid, 1 invalid token, 2 usage or setup error.
// Never prints key material except what keygen/mint are asked to produce.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace ef::auth {

int token_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace ef::auth
