// Unit tests of http/cors.h: the `cors` section's validation and origin matching.
#include <catch2/catch.hpp>

#include "http/cors.h"

using namespace ef;
using namespace ef::http;

namespace {

Result<CorsConfig> parse(const std::string& text, bool auth_required = true) {
  auto v = json::parse(text);
  REQUIRE(v.ok());
  return parse_cors_config(*v, auth_required);
}

}  // namespace

TEST_CASE("cors: missing section is off with the documented defaults") {
  auto c = parse_cors_config(json::Value(), true);
  REQUIRE(c.ok());
  CHECK_FALSE(c->enabled);
  CHECK_FALSE(c->allows("http://localhost:3000"));
  CHECK(c->allowed_headers.size() == 9);
  CHECK(c->allowed_headers.front() == "Authorization");
  CHECK(c->exposed_headers.size() == 9);
  CHECK(c->exposed_headers.front() == "Location");
  CHECK(c->max_age_seconds == 600);
  CHECK_FALSE(c->allow_credentials);
  auto empty = parse(R"({"allowed_origins": []})");
  REQUIRE(empty.ok());
  CHECK_FALSE(empty->enabled);
}

TEST_CASE("cors: exact origins and port wildcards") {
  auto c = parse(R"({"allowed_origins": ["https://App.Example.org", "http://localhost:*", "http://[::1]:8080"]})");
  REQUIRE(c.ok());
  CHECK(c->enabled);
  CHECK(c->allows("https://app.example.org"));
  CHECK(c->allows("https://app.example.org:443"));  // the default port is implied
  CHECK_FALSE(c->allows("https://app.example.org:8443"));
  CHECK_FALSE(c->allows("http://app.example.org"));
  CHECK_FALSE(c->allows("https://app.example.org.evil.com"));
  CHECK_FALSE(c->allows("https://evilapp.example.org"));
  CHECK_FALSE(c->allows("https://app.example.org/"));
  CHECK(c->allows("http://localhost:3000"));
  CHECK(c->allows("http://localhost"));  // port 80 is "any port" too
  CHECK_FALSE(c->allows("https://localhost:3000"));
  CHECK_FALSE(c->allows("http://localhost.evil.com:3000"));
  CHECK_FALSE(c->allows("http://localhost:3000@evil.com"));
  CHECK(c->allows("http://[::1]:8080"));
  CHECK_FALSE(c->allows("http://[::1]:8081"));
  CHECK_FALSE(c->allows("null"));
  CHECK_FALSE(c->allows(""));
  CHECK_FALSE(c->allows("http://localhost:*"));  // a wildcard is not an origin
}

TEST_CASE("cors: \"*\" needs auth off or an explicit confirmation, and never credentials") {
  auto off = parse(R"({"allowed_origins": ["*"]})", false);
  REQUIRE(off.ok());
  CHECK(off->allows("https://anything.example"));
  CHECK_FALSE(off->allows("null"));
  auto on = parse(R"({"allowed_origins": ["*"]})", true);
  REQUIRE_FALSE(on.ok());
  CHECK(on.status().message.find("key 'cors.allowed_origins'") != std::string::npos);
  CHECK(on.status().message.find("allow_any_origin_with_auth") != std::string::npos);
  auto confirmed = parse(R"({"allowed_origins": ["*"], "allow_any_origin_with_auth": true})", true);
  REQUIRE(confirmed.ok());
  CHECK(confirmed->any_origin);
  auto creds = parse(R"({"allowed_origins": ["*"], "allow_credentials": true})", false);
  REQUIRE_FALSE(creds.ok());
  CHECK(creds.status().message.find("key 'cors.allow_credentials'") != std::string::npos);
}

TEST_CASE("cors: bad values name the key") {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"origins": []})", "key 'cors.origins': unknown key"},
      {R"({"allowed_origins": "http://a"})", "key 'cors.allowed_origins': must be a list"},
      {R"({"allowed_origins": [1]})", "key 'cors.allowed_origins': must be a list"},
      {R"({"allowed_origins": ["http://a/b"]})", "key 'cors.allowed_origins': 'http://a/b'"},
      {R"({"allowed_origins": ["a.example"]})", "key 'cors.allowed_origins': 'a.example'"},
      {R"({"allowed_origins": ["http://a:0"]})", "key 'cors.allowed_origins'"},
      {R"({"allowed_origins": ["http://a:65536"]})", "key 'cors.allowed_origins'"},
      {R"({"allowed_origins": ["http://a:"]})", "key 'cors.allowed_origins'"},
      {R"({"allowed_origins": ["http://u@a"]})", "key 'cors.allowed_origins'"},
      {R"({"allowed_origins": ["null"]})", "key 'cors.allowed_origins'"},
      {R"({"allowed_headers": ["X Y"]})", "key 'cors.allowed_headers'"},
      {R"({"exposed_headers": ["a,b"]})", "key 'cors.exposed_headers'"},
      {R"({"max_age_seconds": -1})", "key 'cors.max_age_seconds'"},
      {R"({"max_age_seconds": 1.5})", "key 'cors.max_age_seconds'"},
      {R"({"allow_credentials": 1})", "key 'cors.allow_credentials'"},
      {R"([])", "key 'cors'"},
  };
  for (const auto& [text, needle] : cases) {
    INFO(text);
    auto c = parse(text);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message.find(needle) != std::string::npos);
  }
}

TEST_CASE("cors: preflight and response headers") {
  auto c = parse(R"({"allowed_origins": ["http://localhost:*"], "allowed_headers": ["Authorization"],
                     "exposed_headers": ["ETag"], "max_age_seconds": 60, "allow_credentials": true})");
  REQUIRE(c.ok());
  httplib::Request req;
  req.method = "OPTIONS";
  req.set_header("Origin", "http://localhost:5000");
  CHECK_FALSE(is_preflight(req));
  req.set_header("Access-Control-Request-Method", "DELETE");
  CHECK(is_preflight(req));
  httplib::Response res;
  answer_preflight(*c, req, res);
  CHECK(res.status == 204);
  CHECK(res.get_header_value("Access-Control-Allow-Origin") == "http://localhost:5000");
  CHECK(res.get_header_value("Access-Control-Allow-Headers") == "Authorization");
  CHECK(res.get_header_value("Access-Control-Allow-Methods") == kCorsMethods);
  CHECK(res.get_header_value("Access-Control-Max-Age") == "60");
  CHECK(res.get_header_value("Access-Control-Allow-Credentials") == "true");
  CHECK(res.get_header_value("Vary") == "Origin");

  httplib::Request other;
  other.method = "GET";
  other.set_header("Origin", "https://evil.example");
  httplib::Response r2;
  r2.set_header("Vary", "Accept-Encoding");
  add_cors_headers(*c, other, r2);
  CHECK_FALSE(r2.has_header("Access-Control-Allow-Origin"));
  CHECK(r2.get_header_value("Vary") == "Accept-Encoding, Origin");

  httplib::Request mine;
  mine.method = "GET";
  mine.set_header("Origin", "http://localhost:5000");
  httplib::Response r3;
  add_cors_headers(*c, mine, r3);
  CHECK(r3.get_header_value("Access-Control-Allow-Origin") == "http://localhost:5000");
  CHECK(r3.get_header_value("Access-Control-Expose-Headers") == "ETag");
  add_cors_headers(*c, mine, r3);  // a second call (error paths) adds nothing
  CHECK(r3.get_header_value_count("Access-Control-Allow-Origin") == 1);
  CHECK(r3.get_header_value_count("Vary") == 1);
}

TEST_CASE("cors: rest.security.cors") {
  CHECK(json::write(with_cors_flag(json::Value(), false)) == R"({"cors":false})");
  json::Object sec;
  sec["description"] = json::Value(std::string("x"));
  auto v = with_cors_flag(json::Value(sec), true);
  CHECK(json::get(v, "cors")->get<bool>());
  CHECK(json::get(v, "description")->get<std::string>() == "x");
}
