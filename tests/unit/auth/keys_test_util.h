// tests/unit/auth/keys_test_util.h — helpers for the [keys] tests: fresh temporary
// databases, demo keys with chosen kids, JWKS documents, a thread-safe settable clock and
// a scripted fake HTTP fetch (so no unit test touches the network).
#pragma once
#include <catch2/catch.hpp>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "auth/jwks.h"
#include "auth/refresher.h"
#include "auth/signer.h"
#include "store/db.h"
#include "test_util.h"
#include "../testing.h"
#include "util/clock.h"
#include "util/json.h"

namespace ef::auth::keytest {

using ef::testing::temp_path;

inline std::string temp_db() { return ef::testing::temp_db("keys"); }

inline std::unique_ptr<store::Database> open_db(const std::string& path) {
  auto d = store::Database::open(path);
  REQUIRE(d.ok());
  return std::move(*d);
}

// A distinct demo key pair per index (generated once per process).
inline const KeyPairPem& pair(int i) {
  static std::mutex mu;
  static std::map<int, KeyPairPem> pairs;
  std::lock_guard<std::mutex> lk(mu);
  auto it = pairs.find(i);
  if (it == pairs.end()) it = pairs.emplace(i, *generate_key_pem(KeyType::ec_p256)).first;
  return it->second;
}

// The public JWK (object) of pair i with a kid.
inline json::Value jwk(int i, const std::string& kid) {
  auto k = key_from_pem(pair(i).public_pem);
  REQUIRE(k.ok());
  auto v = json::parse(k->jwk_json);
  REQUIRE(v.ok());
  json::Object o = *json::as_object(*v);
  if (!kid.empty()) o["kid"] = json::Value(kid);
  return json::Value(o);
}

inline Key key(int i, const std::string& kid) {
  auto k = key_from_jwk(jwk(i, kid));
  REQUIRE(k.ok());
  return *k;
}

inline std::string jwks(const std::vector<json::Value>& keys) {
  json::Object o;
  o["keys"] = json::Value(json::Array(keys.begin(), keys.end()));
  return json::write(json::Value(o));
}

inline std::string write_file(const std::string& name, const std::string& text) {
  return ef::testing::write_temp_file(name, text);
}

using TestClock = FixedClock;  // util/clock.h

// Scripted responses per URL; counts requests per URL.
struct FakeHttp {
  std::mutex mu;
  std::map<std::string, HttpResponse> responses;
  std::map<std::string, int> hits;
  int delay_ms = 0;

  void set(const std::string& url, int status, const std::string& body, int64_t max_age = -1) {
    std::lock_guard<std::mutex> lk(mu);
    HttpResponse r;
    r.status = status;
    r.body = body;
    r.max_age = max_age;
    responses[url] = r;
  }
  void fail(const std::string& url, const std::string& error) {
    std::lock_guard<std::mutex> lk(mu);
    HttpResponse r;
    r.error = error;
    responses[url] = r;
  }
  int count(const std::string& url) {
    std::lock_guard<std::mutex> lk(mu);
    return hits[url];
  }
  int total() {
    std::lock_guard<std::mutex> lk(mu);
    int n = 0;
    for (auto& [u, c] : hits) n += c;
    return n;
  }
  HttpGet fn() {
    return [this](const HttpRequest& req) {
      HttpResponse r;
      {
        std::lock_guard<std::mutex> lk(mu);
        ++hits[req.url];
        auto it = responses.find(req.url);
        if (it == responses.end()) r.error = "connection failed";
        else r = it->second;
      }
      if (delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      return r;
    };
  }
};

inline IssuerConfig issuer(const std::string& iss) {
  IssuerConfig ic;
  ic.issuer = iss;
  ic.algorithms = {"ES256", "RS256"};
  return ic;
}

}  // namespace ef::auth::keytest
