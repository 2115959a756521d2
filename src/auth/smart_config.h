// auth/smart_config.h — what the server publishes about its authorization: the SMART App
// Launch discovery document (GET [base]/.well-known/smart-configuration) and the
// CapabilityStatement rest.security element.  Pure: built from the `auth` config section.
//
// Config read (all optional except an issuer):
//   auth.issuers        [ {"issuer": "https://iss", "jwks_uri": "..."}, ... ]  (auth/config.h;
//                       plain strings are accepted too)
//   auth.smart          {
//     "enabled": true,                         false: no discovery document (404)
//     "issuer", "authorization_endpoint", "token_endpoint", "jwks_uri",
//     "introspection_endpoint", "revocation_endpoint", "management_endpoint",
//     "registration_endpoint",                 override what is derived
//     "patient_context": false,                true when the identity provider puts the
//                                              selected patient in a "patient" claim
//                                              (adds context-standalone-patient, launch/patient)
//     "capabilities": [...], "scopes_supported": [...], "grant_types_supported": [...],
//     "token_endpoint_auth_methods_supported": [...]   replace the derived lists
//   }
// Derivation from the FIRST issuer when auth.smart does not name the endpoints:
//   Microsoft Entra ID  https://login.microsoftonline.com/{tenant}/v2.0, https://sts.windows.net/{tenant}/
//                       and https://{x}.ciamlogin.com/{tenant}/v2.0 (External ID):
//                       {host}/{tenant}/oauth2/v2.0/authorize, .../token, {host}/{tenant}/discovery/v2.0/keys
//                       (a "{tenantid}" template issuer uses the "organizations" tenant)
//   Keycloak            {issuer}/protocol/openid-connect/{auth,token,certs,token/introspect,revoke}
//                       when the issuer path contains "/realms/"
//   anything else       nothing is derived: set auth.smart.authorization_endpoint and
//                       token_endpoint, or discovery answers 404 with that advice.
// Capabilities are claimed only where true: permission-v1/v2/patient/user always (the
// policy enforces them); launch-standalone with an authorization endpoint;
// client-public, client-confidential-symmetric, sso-openid-connect and permission-offline
// only for a recognised provider (Entra, Keycloak); context-standalone-patient only with
// auth.smart.patient_context.
#pragma once
#include <string>
#include <vector>

#include "util/json.h"
#include "util/status.h"

namespace ef::auth {

struct SmartEndpoints {
  std::string provider;  // "entra", "keycloak" or "" (not recognised)
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  std::string introspection_endpoint;
  std::string revocation_endpoint;
  std::string management_endpoint;
  std::string registration_endpoint;
};

// The configured issuers, in order (strings and {"issuer": ...} objects).
std::vector<std::string> configured_issuers(const json::Value& auth_section);
// Endpoints from auth.smart, else derived from the first issuer (see above).
SmartEndpoints smart_endpoints(const json::Value& auth_section);

// The discovery document.  Err::not_found (with advice in the message) when no issuer is
// configured, auth.smart.enabled is false, or no token endpoint is known.
Result<json::Value> smart_configuration(const json::Value& auth_section);
// Checks auth.smart (absent/null is fine): an object of the keys above with the right
// types; errors name the key ("auth.smart.token_endpoint: must be a non-empty string").
Status check_smart_config(const json::Value& auth_section);

// CapabilityStatement.rest.security: service SMART-on-FHIR with the oauth-uris extension
// when the endpoints are known, else service OAuth; a null value when no issuer is
// configured (the caller then omits `security`).
json::Value capability_security(const json::Value& auth_section);

}  // namespace ef::auth
