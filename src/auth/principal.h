// auth/principal.h — who the caller is, after a token has been fully validated (CONTRACT
// between auth/validator.cpp, which fills it, and auth/policy.cpp / http/, which use it).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "util/json.h"

namespace ef::auth {

struct Principal {
  bool authenticated = false;  // false when auth.required is off and no token was sent
  std::string issuer;
  std::string subject;     // sub
  std::string object_id;   // oid (Entra)
  std::string tenant_id;   // tid
  std::string client_id;   // azp / appid / client_id
  std::vector<std::string> roles;   // from the configured roles claim
  std::vector<std::string> scopes;  // from scp and scope (space separated strings or arrays), deduplicated
  // A scope-bearing claim the validator could not read (wrong JSON type): the policy refuses
  // every data request rather than deciding without it.  Empty when fine.
  std::string claim_problem;
  std::string patient;     // SMART "patient" launch context, if any
  std::string fhir_user;   // SMART fhirUser, if any
  int64_t expires_at = 0;  // exp, seconds
  json::Value claims;      // the whole payload, for policy extensions
};

using PrincipalPtr = std::shared_ptr<const Principal>;

}  // namespace ef::auth
