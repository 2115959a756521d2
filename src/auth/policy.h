// auth/policy.h — the authorization decision: may this Principal perform this FHIR
// interaction, and if so, restricted to what?  Pure logic: no I/O, no HTTP, no clock.
//
// Inputs are the validated Principal (auth/principal.h) and a Request naming the
// interaction; the output is a Decision.  src/http/ turns a refused Decision into 403
// (error_description = Decision::reason) and applies the restrictions of an allowed one.
//
// ---- Permission vocabulary (what roles grant; config `auth.role_permissions`) ----
//   read      read, vread, search (type/system/compartment), history, $everything
//   write     create, update, patch
//   delete    delete
//   export    $export
//   import    $import (bulk import)
//   validate  $validate
//   admin     $reindex and other administrative operations
//   smart     grants no data by itself; marks a user allowed to act through SMART scopes
//             (only matters with `auth.scopes_require_role`, see below)
//   *         all of the above
// Default roles (Azure Health Data Services names, then the open-source FHIR server for
// Azure names):
//   FHIR Data Reader        read                 globalReader    read
//   FHIR Data Writer        read write delete    globalWriter    read write delete
//   FHIR Data Contributor   *                    globalAdmin     *
//   FHIR Data Exporter      read export          globalExporter  read export
//   FHIR Data Importer      read import          globalImporter  read import
//   FHIR SMART User         smart
// `auth.role_permissions` ({"Role": ["read", ...]}) adds roles or replaces the entry of a
// role with the same name (map a default role to [] to disable it).  Role names match
// exactly (case-sensitive, as issued).  Roles not in the table grant nothing.
//
// ---- SMART scopes (auth/scopes.h) ----
// Required letters per interaction (each requirement must be met by ONE scope):
//   read, vread, history-instance            r  on the type
//   search-type, search-compartment,
//   history-type                             s  on the type
//   search-system, history-system            s  on "*"
//   create c, update u, patch u, delete d    on the type
//   $everything                              rs on "*"
//   $validate                                r  on the type ("*" when none)
//   $export                                  rs on the type ("*" when none), system/ level only
//   $import, admin operations                cruds on "*", system/ level only
//   transaction / batch (the bundle itself)  any clinical scope; each entry is decided
//                                            separately by the caller
//   capabilities                             always allowed, even unauthenticated
//
// ---- Combination rule (roles x scopes) ----
//   1. Unauthenticated principal: everything but capabilities is refused.  (When
//      auth.required is off and no token was sent the caller does not call decide();
//      the server is open by configuration.)
//   2. No SMART clinical scope in the token: the roles decide alone, unrestricted.
//      Non-SMART scopes (openid, user_impersonation, ...) do not count.
//   3. Clinical scopes and no data role (no role granting read/write/...): the scopes
//      decide alone — the pure SMART model of Keycloak/Okta/Epic-style servers.  With
//      `auth.scopes_require_role: true` such a token additionally needs a role granting
//      `smart` (e.g. "FHIR SMART User"), Azure's behaviour.
//   4. Clinical scopes and data roles: BOTH must allow.  Roles are the ceiling of what
//      the user may do; scopes are what the user consented to let this app do (Azure's
//      SMART behaviour).  A Reader holding user/*.cruds still cannot write; a Writer whose
//      app holds patient/Observation.rs can only read Observations of its patient.
//   Scopes are additive among themselves (any one matching scope allows).
//
// ---- Restrictions of an allowed decision (scope-based grants only) ----
//   patient/ scopes limit every result and write to the compartment of the token's
//   patient: the `patient` claim, else the Patient named by fhirUser ("Patient/123" or a
//   URL ending in it).  A patient/ scope without such a context grants nothing and the
//   refusal says so.  user/ scopes limit to the compartment of fhirUser when fhirUser is a
//   Patient (a patient user can only ever see their own record); otherwise, like
//   system/ scopes, they do not restrict by compartment.  v2 "?name=value" constraints
//   limit results to resources matching those search parameters.
//   Decision::constraints lists the alternatives: a resource is permitted when it
//   satisfies ANY one of them (all of its params AND its compartment); an empty list means
//   unrestricted.  Decision::compartment_patient is set when EVERY alternative is limited
//   to that patient, so the caller can add the compartment filter up front.
//   The caller enforces them: search adds the compartment/param filters (also to
//   _include/_revinclude results: decide search-type on each included type and filter the
//   same way), read/vread/history check membership, create/update/patch/delete check the
//   submitted or stored resource, $everything checks the Patient id.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "auth/principal.h"
#include "auth/scopes.h"
#include "util/json.h"
#include "util/status.h"


namespace ef::auth {

enum class Interaction {
  read,
  vread,
  search_type,         // GET [type]?...
  search_system,       // GET [base]?...
  search_compartment,  // GET Patient/[id]/[type]?...  (Request::type = the searched type)
  history_instance,
  history_type,
  history_system,
  create,
  update,
  patch,
  del,                 // delete
  transaction,         // the bundle POST itself; entries are decided one by one
  batch,
  capabilities,        // GET /metadata, /.well-known/smart-configuration
  everything,          // Patient/[id]/$everything
  export_,             // $export (system, Patient, Group)
  import_,             // $import
  validate,            // [type]/$validate
  admin,               // $reindex and other administrative operations
};
// Stable names used in messages and the audit trail: "read", "search-type",
// "history-instance", "delete", "export", ...
const char* interaction_name(Interaction i);
bool parse_interaction(const std::string& name, Interaction* out);

// Permission bits that roles grant (see the vocabulary above).
enum Permission : unsigned {
  kPermRead = 1u << 0,
  kPermWrite = 1u << 1,
  kPermDelete = 1u << 2,
  kPermExport = 1u << 3,
  kPermImport = 1u << 4,
  kPermValidate = 1u << 5,
  kPermAdmin = 1u << 6,
  kPermSmart = 1u << 7,
  kPermAll = 0xFFu,
  kPermData = kPermAll & ~kPermSmart,
};
bool parse_permission(const std::string& word, unsigned* out);  // "read" ... "*"
std::string permission_names(unsigned perms);                    // "read write", "*", "none"

struct Request {
  Interaction interaction = Interaction::read;
  std::string type;       // resource type; "" for system-level interactions
  std::string id;         // resource id when the interaction targets one
  std::string operation;  // "$reindex" etc., for messages only
};

// One alternative way a resource can be permitted (see "Restrictions" above).
struct ScopeConstraint {
  std::string compartment_patient;  // "": no compartment limit
  std::vector<ScopeParam> params;   // all must match (FHIR search syntax); empty: none
  std::string scope;                // the scope that yields it, for diagnostics
};

struct Decision {
  bool allowed = false;
  // Set iff every constraint is limited to this patient's compartment.
  std::string compartment_patient;
  // Empty: unrestricted.  Otherwise a resource is permitted when it satisfies any one.
  std::vector<ScopeConstraint> constraints;
  // Refused: the shortest statement of what was missing, e.g. "role permission 'write'"
  // or "scope patient/Observation.c (v1: patient/Observation.write)".
  std::string missing_permission;
  // Refused: a full sentence for the 403 error_description / OperationOutcome and the
  // audit trail.  Allowed: what allowed it ("role FHIR Data Reader", "scope patient/*.rs").
  std::string reason;
  // Refused by scopes: the v2 scope that would have allowed it (for WWW-Authenticate
  // error="insufficient_scope", scope="..."); "" otherwise.
  std::string required_scope;

  bool unrestricted() const { return allowed && constraints.empty(); }
};

class Policy {
 public:
  // Reads `role_permissions` and `scopes_require_role` from the `auth` config section
  // (a null or missing section gives the defaults).  Errors name the bad role/word.
  static Result<Policy> from_config(const json::Value& auth_section);
  Policy();  // the defaults

  Decision decide(const Principal& who, const Request& req) const;
  // "" when the caller's claims can be read; else why not (a scope claim of the wrong type, a
  // malformed SMART scope, an unparsable fhirUser next to clinical scopes): the checks decide()
  // fails closed on, for routes that need no permission but an authenticated caller (the
  // bundled terminology content, issue 21).
  static std::string unreadable_claims(const Principal& who);

  // Union of the permissions the principal's roles grant.
  unsigned role_permissions(const std::vector<std::string>& roles) const;
  const std::map<std::string, unsigned>& roles() const { return roles_; }
  bool scopes_require_role() const { return scopes_require_role_; }

 private:
  std::map<std::string, unsigned> roles_;
  bool scopes_require_role_ = false;
};

// The patient a patient/ scope is bound to: the `patient` claim, else the id of a
// Patient fhirUser ("Patient/123" or ".../Patient/123"); "" when neither.
std::string patient_context(const Principal& who);
// The Patient id named by a fhirUser value, "" when it names no Patient.
std::string fhir_user_patient(const std::string& fhir_user);
// Strict parse of a fhirUser value: "Type/id" or "<base URL>/Type/id", optionally
// "/_history/<vid>"; false for anything else (the policy then refuses the token).
bool parse_fhir_user(const std::string& fhir_user, std::string* type, std::string* id);

// The "who" of an audit event: subject (oid, else sub), client id, tenant, issuer.  Never the
// token or claims beyond those.
struct CallerNames {
  std::string subject, client_id, tenant, issuer;
};
CallerNames caller_names(const Principal& who);

}  // namespace ef::auth
