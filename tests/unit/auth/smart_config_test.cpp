// SMART discovery document and CapabilityStatement.rest.security (auth/smart_config.h).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "auth/smart_config.h"

using namespace ef;

namespace {
json::Value cfg(const char* text) {
  auto v = json::parse(text);
  REQUIRE(v.ok());
  return *v;
}
std::vector<std::string> list(const json::Value& doc, const char* key) {
  std::vector<std::string> out;
  if (const json::Array* a = json::get_array(doc, key))
    for (const auto& v : *a)
      if (const std::string* s = json::as_string(v)) out.push_back(*s);
  return out;
}
bool has(const std::vector<std::string>& v, const char* s) { return std::find(v.begin(), v.end(), s) != v.end(); }
}  // namespace

TEST_CASE("smart-configuration derived from an Entra v2 issuer", "[policy]") {
  auto doc = auth::smart_configuration(cfg(R"({"issuers": [{"issuer": "https://login.microsoftonline.com/tid-1/v2.0", "audience": "api://x"}]})"));
  REQUIRE(doc.ok());
  CHECK(json::string_or(*doc, "issuer") == "https://login.microsoftonline.com/tid-1/v2.0");
  CHECK(json::string_or(*doc, "authorization_endpoint") == "https://login.microsoftonline.com/tid-1/oauth2/v2.0/authorize");
  CHECK(json::string_or(*doc, "token_endpoint") == "https://login.microsoftonline.com/tid-1/oauth2/v2.0/token");
  CHECK(json::string_or(*doc, "jwks_uri") == "https://login.microsoftonline.com/tid-1/discovery/v2.0/keys");
  CHECK(list(*doc, "code_challenge_methods_supported") == std::vector<std::string>{"S256"});
  CHECK(list(*doc, "grant_types_supported") == std::vector<std::string>{"authorization_code", "client_credentials"});
  auto caps = list(*doc, "capabilities");
  for (const char* c : {"permission-v1", "permission-v2", "launch-standalone", "client-public", "client-confidential-symmetric",
                        "sso-openid-connect"})
    CHECK(has(caps, c));
  CHECK_FALSE(has(caps, "context-standalone-patient"));  // Entra has no patient picker
  CHECK_FALSE(has(list(*doc, "scopes_supported"), "launch/patient"));
  CHECK(has(list(*doc, "scopes_supported"), "user/*.cruds"));
}

TEST_CASE("smart-configuration: v1 issuer, tenant template, External ID, Keycloak", "[policy]") {
  auto v1 = auth::smart_configuration(cfg(R"({"issuers": ["https://sts.windows.net/tid-2/"]})"));
  REQUIRE(v1.ok());
  CHECK(json::string_or(*v1, "issuer") == "https://login.microsoftonline.com/tid-2/v2.0");
  CHECK(json::string_or(*v1, "token_endpoint") == "https://login.microsoftonline.com/tid-2/oauth2/v2.0/token");

  auto multi = auth::smart_configuration(cfg(R"({"issuers": [{"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}]})"));
  REQUIRE(multi.ok());
  CHECK(json::string_or(*multi, "authorization_endpoint") ==
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize");

  auto ciam = auth::smart_configuration(cfg(R"({"issuers": ["https://contoso.ciamlogin.com/tid-3/v2.0"]})"));
  REQUIRE(ciam.ok());
  CHECK(json::string_or(*ciam, "token_endpoint") == "https://contoso.ciamlogin.com/tid-3/oauth2/v2.0/token");

  auto kc = auth::smart_configuration(
      cfg(R"({"issuers": ["https://id.example/realms/clinic"], "smart": {"patient_context": true}})"));
  REQUIRE(kc.ok());
  CHECK(json::string_or(*kc, "authorization_endpoint") == "https://id.example/realms/clinic/protocol/openid-connect/auth");
  CHECK(json::string_or(*kc, "introspection_endpoint") ==
        "https://id.example/realms/clinic/protocol/openid-connect/token/introspect");
  CHECK(has(list(*kc, "capabilities"), "context-standalone-patient"));
  CHECK(has(list(*kc, "scopes_supported"), "launch/patient"));
}

TEST_CASE("smart-configuration: explicit config wins; unknown issuers need endpoints", "[policy]") {
  auto none = auth::smart_configuration(cfg(R"({"issuers": ["https://idp.example"]})"));
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code == Err::not_found);
  CHECK(none.status().message.find("auth.smart.token_endpoint") != std::string::npos);

  auto doc = auth::smart_configuration(cfg(R"({"issuers": ["https://idp.example"], "smart": {
      "authorization_endpoint": "https://idp.example/authorize", "token_endpoint": "https://idp.example/token",
      "capabilities": ["launch-ehr", "permission-v2"], "scopes_supported": ["patient/*.rs"]}})"));
  REQUIRE(doc.ok());
  CHECK(json::string_or(*doc, "token_endpoint") == "https://idp.example/token");
  CHECK(list(*doc, "capabilities") == std::vector<std::string>{"launch-ehr", "permission-v2"});
  CHECK(list(*doc, "scopes_supported") == std::vector<std::string>{"patient/*.rs"});
  CHECK(json::get(*doc, "token_endpoint_auth_methods_supported") == nullptr);  // unknown provider: not claimed
  CHECK(json::get(*doc, "jwks_uri") == nullptr);

  auto derived = cfg(R"({"issuers": [{"issuer": "https://login.microsoftonline.com/t/v2.0", "jwks_uri": "https://keys.example/jwks"}],
                         "smart": {"token_endpoint": "https://proxy.example/token"}})");
  auto d2 = auth::smart_configuration(derived);
  REQUIRE(d2.ok());
  CHECK(json::string_or(*d2, "token_endpoint") == "https://proxy.example/token");
  CHECK(json::string_or(*d2, "jwks_uri") == "https://keys.example/jwks");

  CHECK(auth::smart_configuration(cfg(R"({})")).status().code == Err::not_found);
  CHECK(auth::smart_configuration(cfg(R"({"issuers": ["https://login.microsoftonline.com/t/v2.0"], "smart": {"enabled": false}})"))
            .status()
            .code == Err::not_found);
}

TEST_CASE("CapabilityStatement rest.security", "[policy]") {
  CHECK(auth::capability_security(cfg(R"({"required": false})")).is<picojson::null>());

  auto sec = auth::capability_security(cfg(R"({"issuers": ["https://login.microsoftonline.com/t/v2.0"]})"));
  const json::Array* service = json::get_array(sec, "service");
  REQUIRE(service);
  const json::Array* coding = json::get_array(service->at(0), "coding");
  REQUIRE(coding);
  CHECK(json::string_or(coding->at(0), "code") == "SMART-on-FHIR");
  CHECK(json::string_or(coding->at(0), "system") == "http://terminology.hl7.org/CodeSystem/restful-security-service");
  const json::Array* ext = json::get_array(sec, "extension");
  REQUIRE(ext);
  CHECK(json::string_or(ext->at(0), "url") == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris");
  const json::Array* uris = json::get_array(ext->at(0), "extension");
  REQUIRE(uris);
  REQUIRE(uris->size() == 2);
  CHECK(json::string_or(uris->at(0), "url") == "token");
  CHECK(json::string_or(uris->at(0), "valueUri") == "https://login.microsoftonline.com/t/oauth2/v2.0/token");
  CHECK(json::string_or(uris->at(1), "url") == "authorize");

  auto plain = auth::capability_security(cfg(R"({"issuers": ["https://idp.example"]})"));
  CHECK(json::string_or(json::get_array(json::get_array(plain, "service")->at(0), "coding")->at(0), "code") == "OAuth");
  CHECK(json::get(plain, "extension") == nullptr);
}

TEST_CASE("auth.smart is checked at start-up: types and unknown keys name the key") {
  CHECK(auth::check_smart_config(cfg(R"({"issuers": ["https://idp.example"]})")).ok());
  CHECK(auth::check_smart_config(cfg(R"({"smart": null})")).ok());
  CHECK(auth::check_smart_config(cfg(R"({"smart": {"enabled": false, "patient_context": true,
      "token_endpoint": "https://t", "scopes_supported": ["openid"], "$comment": "x"}})")).ok());
  auto msg = [](const char* text) { return auth::check_smart_config(cfg(text)).message; };
  CHECK(msg(R"({"smart": []})") == "auth.smart: must be an object");
  CHECK(msg(R"({"smart": {"enabled": "no"}})") == "auth.smart.enabled: must be true or false");
  CHECK(msg(R"({"smart": {"token_endpoint": ""}})") == "auth.smart.token_endpoint: must be a non-empty string");
  CHECK(msg(R"({"smart": {"scopes_supported": "openid"}})") == "auth.smart.scopes_supported: must be an array of strings");
  CHECK(msg(R"({"smart": {"token_endpiont": "https://t"}})").rfind("auth.smart.token_endpiont: unknown key", 0) == 0);
}
