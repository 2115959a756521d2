// auth/scopes.h — SMART on FHIR clinical scopes: parsing only (no decisions; see policy.h).
//
// Owns the grammar of a scope token as it arrives in `scp` (Entra, space separated) or
// `scope` (RFC 9068), already split into Principal::scopes by the validator:
//
//   level "/" type "." permissions [ "?" param "=" value *( "&" param "=" value ) ]
//   level       = "patient" | "user" | "system"
//   type        = a FHIR resource type | "*"   ("all" is accepted as "*", Entra style)
//   permissions = SMART v1 "read" | "write" | "*"
//               | SMART v2 a non-empty subsequence of "cruds" in that order ("rs", "cud", ...)
//
// v1 "read" means v2 "rs", "write" means "cud", "*" means "cruds".
//
// Encodings seen in real tokens are undone before parsing: "%2f"/"%2F" for "/" (Entra
// cannot store "/" in a scope value), and the Entra form "patient.Observation.read"
// where the first "." stands for "/".  The v2 query ("?category=...") keeps FHIR search
// syntax; each name and value is percent-decoded separately.
//
// Tokens that are not clinical scopes (openid, fhirUser, profile, launch, launch/patient,
// offline_access, Entra resource scopes like user_impersonation, "api://x/.default")
// grant nothing and are not errors: they land in ScopeSet::other.  Tokens that start
// like a clinical scope but are malformed (e.g. "patient/Observation.rc",
// "user/Observation.foo") land in ScopeSet::invalid with the reason; the policy refuses
// a token that carries any of them (fail closed: a scope the server cannot read must never
// leave a role to decide alone).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ef::auth {

enum class ScopeLevel { patient, user, system };
const char* scope_level_name(ScopeLevel l);  // "patient", "user", "system"

// Permission letters of SMART v2, as a bit set.
enum ScopePerm : unsigned {
  kScopeCreate = 1u << 0,  // c: create
  kScopeRead = 1u << 1,    // r: read, vread, instance history
  kScopeUpdate = 1u << 2,  // u: update, patch
  kScopeDelete = 1u << 3,  // d: delete
  kScopeSearch = 1u << 4,  // s: search, type and system history
  kScopeAll = 0x1Fu,
};
// "cruds" letters for a bit set, in canonical order ("rs" for read|search).
std::string scope_perm_letters(unsigned perms);
// The v1 spelling of a bit set when one exists ("read" for rs, "write" for cud, "*" for
// cruds), else "".
std::string scope_perm_v1(unsigned perms);

using ScopeParam = std::pair<std::string, std::string>;  // decoded name (with modifier), value

struct ClinicalScope {
  ScopeLevel level = ScopeLevel::patient;
  std::string type;                // resource type, or "*"
  unsigned perms = 0;              // ScopePerm bits
  std::vector<ScopeParam> params;  // v2 constraints; all must hold
  bool v2 = false;                 // written with v2 letters
  std::string text;                // the scope after decoding, e.g. "patient/Observation.rs?category=laboratory"

  bool covers_type(const std::string& t) const { return type == "*" || type == t; }
};

struct ScopeSet {
  std::vector<ClinicalScope> clinical;
  std::vector<std::string> other;    // non-SMART-resource scopes (kept decoded)
  std::vector<std::string> invalid;  // clinical-looking but malformed (kept decoded)
  std::vector<std::string> invalid_why;  // same order: what is wrong with each
};

// Undoes the transport encodings described above: %2f/%2F -> '/', the Entra "level."
// prefix -> "level/".  The query part, if any, is left untouched (parse decodes it).
std::string normalize_scope(std::string_view raw);

// Parses one scope token.  Returns 1 and fills *out for a clinical scope, 0 for a
// token that is not a clinical scope, -1 for a malformed clinical scope; *why (optional)
// says what is wrong in the -1 case.
int parse_clinical_scope(std::string_view raw, ClinicalScope* out, std::string* why = nullptr);

// Classifies every token.  Empty tokens are skipped.
ScopeSet parse_scopes(const std::vector<std::string>& scopes);

// Percent-decodes a URL component ('+' stays '+').  Malformed escapes are kept verbatim.
std::string percent_decode(std::string_view s);

}  // namespace ef::auth
