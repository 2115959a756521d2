// auth/smart_config.cpp — see smart_config.h.  Owns the Entra/Keycloak endpoint
// derivation and the capability list.
#include "auth/smart_config.h"

namespace ef::auth {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

const json::Value& smart_section(const json::Value& auth) {
  static const json::Value null;
  const json::Value* s = json::get(auth, "smart");
  return s && json::is_object(*s) ? *s : null;
}

// host ("https://login.microsoftonline.com") and tenant of an Entra issuer, or false.
bool entra_parts(const std::string& iss, std::string* host, std::string* tenant) {
  std::string rest;
  if (starts_with(iss, "https://login.microsoftonline.com/")) {
    *host = "https://login.microsoftonline.com";
    rest = iss.substr(host->size() + 1);
    if (!ends_with(rest, "/v2.0")) return false;
    rest.resize(rest.size() - 5);
  } else if (starts_with(iss, "https://sts.windows.net/")) {
    *host = "https://login.microsoftonline.com";
    rest = iss.substr(24);
    if (ends_with(rest, "/")) rest.pop_back();
  } else if (starts_with(iss, "https://")) {
    size_t slash = iss.find('/', 8);
    if (slash == std::string::npos || !ends_with(iss.substr(0, slash), ".ciamlogin.com")) return false;
    *host = iss.substr(0, slash);
    rest = iss.substr(slash + 1);
    if (!ends_with(rest, "/v2.0")) return false;
    rest.resize(rest.size() - 5);
  } else {
    return false;
  }
  if (rest.empty() || rest.find('/') != std::string::npos) return false;
  *tenant = rest == "{tenantid}" ? "organizations" : rest;
  return true;
}

void set_from(const json::Value& smart, const char* key, std::string* out) {
  if (const std::string* s = json::get_string(smart, key)) *out = *s;
}

json::Value strings(const std::vector<std::string>& v) {
  json::Array a;
  for (const auto& s : v) a.emplace_back(s);
  return json::Value(a);
}

// The configured list under auth.smart[key] if it is an array, else `def`.
json::Value list_or(const json::Value& smart, const char* key, const std::vector<std::string>& def) {
  if (const json::Array* a = json::get_array(smart, key)) return json::Value(*a);
  return strings(def);
}

bool flag(const json::Value& obj, const char* key, bool def) {
  const json::Value* v = json::get(obj, key);
  return v && json::is_bool(*v) ? v->get<bool>() : def;
}

}  // namespace

std::vector<std::string> configured_issuers(const json::Value& auth) {
  std::vector<std::string> out;
  if (const json::Array* a = json::get_array(auth, "issuers")) {
    for (const json::Value& v : *a) {
      if (const std::string* s = json::as_string(v)) out.push_back(*s);
      else if (const std::string* s2 = json::get_string(v, "issuer")) out.push_back(*s2);
    }
  }
  return out;
}

SmartEndpoints smart_endpoints(const json::Value& auth) {
  SmartEndpoints e;
  const std::vector<std::string> issuers = configured_issuers(auth);
  if (!issuers.empty()) {
    const std::string& iss = issuers.front();
    e.issuer = iss;
    std::string host, tenant;
    if (entra_parts(iss, &host, &tenant)) {
      const std::string base = host + "/" + tenant;
      e.provider = "entra";
      if (iss.find("{tenantid}") != std::string::npos || starts_with(iss, "https://sts.windows.net/"))
        e.issuer = base + "/v2.0";  // the OpenID issuer of the v2 endpoints
      e.authorization_endpoint = base + "/oauth2/v2.0/authorize";
      e.token_endpoint = base + "/oauth2/v2.0/token";
      e.jwks_uri = base + "/discovery/v2.0/keys";
    } else if (starts_with(iss, "https://") && iss.find("/realms/") != std::string::npos) {
      std::string b = ends_with(iss, "/") ? iss.substr(0, iss.size() - 1) : iss;
      e.provider = "keycloak";
      e.authorization_endpoint = b + "/protocol/openid-connect/auth";
      e.token_endpoint = b + "/protocol/openid-connect/token";
      e.jwks_uri = b + "/protocol/openid-connect/certs";
      e.introspection_endpoint = b + "/protocol/openid-connect/token/introspect";
      e.revocation_endpoint = b + "/protocol/openid-connect/revoke";
    }
    // A jwks_uri configured with the issuer wins over the derived one.
    const json::Array* a = json::get_array(auth, "issuers");
    if (a && !a->empty())
      if (const std::string* j = json::get_string(a->front(), "jwks_uri")) e.jwks_uri = *j;
  }
  const json::Value& smart = smart_section(auth);
  set_from(smart, "issuer", &e.issuer);
  set_from(smart, "authorization_endpoint", &e.authorization_endpoint);
  set_from(smart, "token_endpoint", &e.token_endpoint);
  set_from(smart, "jwks_uri", &e.jwks_uri);
  set_from(smart, "introspection_endpoint", &e.introspection_endpoint);
  set_from(smart, "revocation_endpoint", &e.revocation_endpoint);
  set_from(smart, "management_endpoint", &e.management_endpoint);
  set_from(smart, "registration_endpoint", &e.registration_endpoint);
  return e;
}

Status check_smart_config(const json::Value& auth) {
  const json::Value* s = json::get(auth, "smart");
  if (!s || s->is<picojson::null>()) return Status();
  const json::Object* o = json::as_object(*s);
  if (!o) return Status(Err::invalid, "auth.smart: must be an object");
  static const char* kStrings[] = {"issuer", "authorization_endpoint", "token_endpoint", "jwks_uri",
                                   "introspection_endpoint", "revocation_endpoint", "management_endpoint",
                                   "registration_endpoint"};
  static const char* kBools[] = {"enabled", "patient_context"};
  static const char* kLists[] = {"capabilities", "scopes_supported", "grant_types_supported",
                                 "token_endpoint_auth_methods_supported"};
  auto in = [](const auto& arr, const std::string& k) {
    for (const char* a : arr)
      if (k == a) return true;
    return false;
  };
  for (const auto& [k, v] : *o) {
    const std::string at = "auth.smart." + k + ": ";
    if (in(kStrings, k)) {
      const std::string* str = json::as_string(v);
      if (!str || str->empty()) return Status(Err::invalid, at + "must be a non-empty string");
    } else if (in(kBools, k)) {
      if (!json::is_bool(v)) return Status(Err::invalid, at + "must be true or false");
    } else if (in(kLists, k)) {
      const json::Array* a = json::as_array(v);
      if (!a) return Status(Err::invalid, at + "must be an array of strings");
      for (const auto& e : *a)
        if (!json::as_string(e) || json::as_string(e)->empty())
          return Status(Err::invalid, at + "must be an array of non-empty strings");
    } else if (k != "$comment" && k != "comment") {
      std::string known;
      auto add = [&](const auto& arr) {
        for (const char* a : arr) known += std::string(known.empty() ? "" : ", ") + a;
      };
      add(kStrings);
      add(kBools);
      add(kLists);
      return Status(Err::invalid, at + "unknown key (known: " + known + ")");
    }
  }
  return Status();
}

Result<json::Value> smart_configuration(const json::Value& auth) {
  const json::Value& smart = smart_section(auth);
  if (!flag(smart, "enabled", true))
    return Status(Err::not_found, "SMART on FHIR discovery is disabled (auth.smart.enabled is false)");
  if (configured_issuers(auth).empty())
    return Status(Err::not_found, "SMART on FHIR discovery is not available: no token issuer is configured (auth.issuers)");
  const SmartEndpoints e = smart_endpoints(auth);
  if (e.token_endpoint.empty())
    return Status(Err::not_found,
                  "SMART on FHIR discovery is not available: the token endpoint of issuer '" + e.issuer +
                      "' cannot be derived; set auth.smart.token_endpoint and auth.smart.authorization_endpoint");
  const bool known = !e.provider.empty();
  const bool patient_ctx = flag(smart, "patient_context", false);

  std::vector<std::string> caps = {"permission-v1", "permission-v2", "permission-patient", "permission-user"};
  if (!e.authorization_endpoint.empty()) caps.push_back("launch-standalone");
  if (known) {
    caps.insert(caps.end(), {"client-public", "client-confidential-symmetric", "permission-offline"});
    if (!e.jwks_uri.empty()) caps.push_back("sso-openid-connect");
  }
  if (patient_ctx) caps.push_back("context-standalone-patient");

  std::vector<std::string> scopes = {"openid", "profile"};
  if (known) scopes.push_back("offline_access");
  if (patient_ctx) scopes.insert(scopes.end(), {"launch/patient", "patient/*.rs", "patient/*.read"});
  scopes.insert(scopes.end(), {"user/*.cruds", "user/*.rs", "user/*.read", "user/*.write", "system/*.cruds",
                               "system/*.rs", "system/*.read"});

  std::vector<std::string> grants;
  if (!e.authorization_endpoint.empty()) grants.push_back("authorization_code");
  grants.push_back("client_credentials");

  json::Object doc;
  if (!e.issuer.empty()) doc["issuer"] = json::Value(e.issuer);
  if (!e.jwks_uri.empty()) doc["jwks_uri"] = json::Value(e.jwks_uri);
  if (!e.authorization_endpoint.empty()) doc["authorization_endpoint"] = json::Value(e.authorization_endpoint);
  doc["token_endpoint"] = json::Value(e.token_endpoint);
  if (!e.introspection_endpoint.empty()) doc["introspection_endpoint"] = json::Value(e.introspection_endpoint);
  if (!e.revocation_endpoint.empty()) doc["revocation_endpoint"] = json::Value(e.revocation_endpoint);
  if (!e.management_endpoint.empty()) doc["management_endpoint"] = json::Value(e.management_endpoint);
  if (!e.registration_endpoint.empty()) doc["registration_endpoint"] = json::Value(e.registration_endpoint);
  doc["grant_types_supported"] = list_or(smart, "grant_types_supported", grants);
  doc["scopes_supported"] = list_or(smart, "scopes_supported", scopes);
  doc["response_types_supported"] = strings({"code"});
  doc["capabilities"] = list_or(smart, "capabilities", caps);
  doc["code_challenge_methods_supported"] = strings({"S256"});
  std::vector<std::string> auth_methods;
  if (known) auth_methods = {"client_secret_basic", "client_secret_post", "private_key_jwt"};
  json::Value methods = list_or(smart, "token_endpoint_auth_methods_supported", auth_methods);
  if (!methods.get<json::Array>().empty()) doc["token_endpoint_auth_methods_supported"] = methods;
  return json::Value(doc);
}

json::Value capability_security(const json::Value& auth) {
  const std::vector<std::string> issuers = configured_issuers(auth);
  if (issuers.empty()) return json::Value();
  const SmartEndpoints e = smart_endpoints(auth);
  const bool smart = flag(smart_section(auth), "enabled", true) && !e.token_endpoint.empty();

  json::Object coding;
  coding["system"] = json::Value("http://terminology.hl7.org/CodeSystem/restful-security-service");
  coding["code"] = json::Value(smart ? "SMART-on-FHIR" : "OAuth");
  coding["display"] = json::Value(smart ? "SMART-on-FHIR" : "OAuth");
  json::Object service;
  service["coding"] = json::Value(json::Array{json::Value(coding)});
  service["text"] = json::Value(smart ? "OAuth2 bearer tokens using the SMART App Launch profile"
                                      : "OAuth2 bearer tokens (JWT)");
  json::Object sec;
  sec["service"] = json::Value(json::Array{json::Value(service)});
  std::string desc = "Requests need an OAuth2 bearer JWT issued by ";
  for (size_t i = 0; i < issuers.size(); ++i) desc += (i ? ", " : "") + issuers[i];
  desc += ". Access is granted by the token's FHIR roles and SMART clinical scopes (patient/, user/, system/; v1 and v2).";
  sec["description"] = json::Value(desc);
  if (smart) {
    json::Array uris;
    auto add = [&](const char* name, const std::string& uri) {
      if (uri.empty()) return;
      json::Object x;
      x["url"] = json::Value(name);
      x["valueUri"] = json::Value(uri);
      uris.emplace_back(x);
    };
    add("token", e.token_endpoint);
    add("authorize", e.authorization_endpoint);
    add("introspect", e.introspection_endpoint);
    add("revoke", e.revocation_endpoint);
    add("manage", e.management_endpoint);
    add("register", e.registration_endpoint);
    json::Object ext;
    ext["url"] = json::Value("http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris");
    ext["extension"] = json::Value(uris);
    sec["extension"] = json::Value(json::Array{json::Value(ext)});
  }
  return json::Value(sec);
}

}  // namespace ef::auth
