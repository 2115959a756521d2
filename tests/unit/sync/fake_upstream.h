// tests/unit/sync/fake_upstream.h — an in-process FHIR server on loopback for the sync
// tests: versioned PUT/DELETE/GET with If-Match, no-op updates (same content = no new
// version, like edgefhir), transaction and batch Bundles, a CapabilityStatement, an OAuth
// token endpoint (client credentials, HTTP Basic), and failure injection.  Every version
// it creates is appended to `history`, so tests can assert "nothing twice".
#pragma once
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "auth/verify.h"
#include "sync/outbox.h"
#include "util/base64url.h"
#include "util/json.h"
#include "../testing.h"

namespace ef::testing {

inline std::string sync_temp_db(const std::string& name) { return temp_db("sync-" + name); }

class FakeUpstream {
 public:
  struct Res {
    int version = 0;
    std::string body;  // with meta.versionId
    bool deleted = false;
  };

  // configuration (set before requests)
  bool transaction = true, batch = true;       // advertised in /metadata
  bool refuse_bundles = false;                 // POST / -> 501 even if advertised
  bool require_token = false;
  std::string client_id = "edge", client_secret = "s3cret";
  std::string client_public_pem;               // set: private_key_jwt accepted (assertion verified)
  std::string token_url;                       // expected aud of a client assertion
  int expires_in = 3600;

  // state (guarded by mu)
  std::mutex mu;
  std::map<std::string, Res> store;            // "Type/id"
  std::vector<std::string> history;            // "Type/id/N" or "Type/id/N/deleted" per new version
  std::vector<std::string> requests;           // "METHOD /path"
  std::vector<size_t> bundle_sizes;            // entries per POST /
  std::set<std::string> valid_tokens;
  int token_requests = 0;
  int fail_next = 0;                           // answer 503 to that many FHIR requests
  int fail_after_apply = 0;                    // apply, then answer 500 (lost acknowledgement)
  bool reject_all_tokens = false;              // 401 for every token
  std::atomic<int> token_delay_ms{0};          // slow token endpoint
  std::atomic<int> bundle_delay_ms{0};         // slow POST / (before answering)
  std::set<std::string> refuse_ids;            // 422 for PUT of these "Type/id"
  std::string last_authorization, last_token_body, last_token_auth;

  FakeUpstream() {
    srv_.Get("/metadata", [this](const httplib::Request&, httplib::Response& res) {
      json::Array ints;
      auto code = [](const char* c) {
        json::Object o;
        o["code"] = json::Value(std::string(c));
        return json::Value(o);
      };
      if (transaction) ints.push_back(code("transaction"));
      if (batch) ints.push_back(code("batch"));
      json::Object rest;
      rest["mode"] = json::Value(std::string("server"));
      rest["interaction"] = json::Value(ints);
      json::Object cs;
      cs["resourceType"] = json::Value(std::string("CapabilityStatement"));
      cs["rest"] = json::Value(json::Array{json::Value(rest)});
      res.set_content(json::write(json::Value(cs)), "application/fhir+json");
    });
    srv_.Post("/token", [this](const httplib::Request& req, httplib::Response& res) { token(req, res); });
    srv_.Post("/", [this](const httplib::Request& req, httplib::Response& res) { bundle(req, res); });
    srv_.Put(R"(/(\w+)/([A-Za-z0-9.\-]+))", [this](const httplib::Request& req, httplib::Response& res) {
      single(req, res, "PUT", req.matches[1], req.matches[2]);
    });
    srv_.Delete(R"(/(\w+)/([A-Za-z0-9.\-]+))", [this](const httplib::Request& req, httplib::Response& res) {
      single(req, res, "DELETE", req.matches[1], req.matches[2]);
    });
    srv_.Get(R"(/(\w+)/([A-Za-z0-9.\-]+))", [this](const httplib::Request& req, httplib::Response& res) {
      single(req, res, "GET", req.matches[1], req.matches[2]);
    });
    port_ = srv_.bind_to_any_port("127.0.0.1");
    th_ = std::thread([this] { srv_.listen_after_bind(); });
    while (!srv_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeUpstream() {
    srv_.stop();
    th_.join();
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Someone else changes a resource upstream.
  void modify(const std::string& key, const std::string& body) {
    std::lock_guard<std::mutex> lk(mu);
    apply_put(key, body);
  }
  int versions_of(const std::string& key) {
    std::lock_guard<std::mutex> lk(mu);
    int n = 0;
    for (const auto& h : history)
      if (h.rfind(key + "/", 0) == 0) ++n;
    return n;
  }
  Res get(const std::string& key) {
    std::lock_guard<std::mutex> lk(mu);
    auto it = store.find(key);
    return it == store.end() ? Res{} : it->second;
  }
  size_t count_requests(const std::string& prefix) {
    std::lock_guard<std::mutex> lk(mu);
    size_t n = 0;
    for (const auto& r : requests)
      if (r.rfind(prefix, 0) == 0) ++n;
    return n;
  }

 private:
  static std::string strip(const std::string& body) {
    auto s = sync::strip_version_meta(body);
    return s ? *s : body;
  }
  // Creates a version unless the content equals the current one.  Returns {status, version}.
  std::pair<int, int> apply_put(const std::string& key, const std::string& body) {
    Res& r = store[key];
    std::string content = strip(body);
    if (r.version > 0 && !r.deleted && strip(r.body) == content) return {200, r.version};
    bool created = r.version == 0 || r.deleted;
    r.version++;
    r.deleted = false;
    json::ParseOptions po;
    po.preserve_numbers = true;
    auto v = json::parse(content, po);
    json::Object& o = v->get<json::Object>();
    json::Object meta;
    if (auto it = o.find("meta"); it != o.end() && it->second.is<json::Object>()) meta = it->second.get<json::Object>();
    meta["versionId"] = json::Value(std::to_string(r.version));
    o["meta"] = json::Value(meta);
    r.body = json::write(*v);
    history.push_back(key + "/" + std::to_string(r.version));
    return {created ? 201 : 200, r.version};
  }
  std::pair<int, int> apply_delete(const std::string& key) {
    auto it = store.find(key);
    if (it == store.end() || it->second.deleted) return {204, 0};
    it->second.version++;
    it->second.deleted = true;
    history.push_back(key + "/" + std::to_string(it->second.version) + "/deleted");
    return {204, it->second.version};
  }
  // 0 when the precondition holds, else 412.
  int check_if_match(const std::string& key, const std::string& if_match) {
    if (if_match.empty()) return 0;
    auto it = store.find(key);
    if (it == store.end() || it->second.deleted) return 412;
    std::string want = if_match;
    if (want.rfind("W/", 0) == 0) want = want.substr(2);
    if (want.size() >= 2 && want.front() == '"') want = want.substr(1, want.size() - 2);
    return want == std::to_string(it->second.version) ? 0 : 412;
  }
  bool authorized(const httplib::Request& req, httplib::Response& res) {
    last_authorization = req.get_header_value("Authorization");
    if (!require_token) return true;
    std::string a = last_authorization;
    if (a.rfind("Bearer ", 0) == 0 && !reject_all_tokens && valid_tokens.count(a.substr(7))) return true;
    res.status = 401;
    res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\", error_description=\"token not accepted\"");
    return false;
  }
  bool injected_failure(httplib::Response& res) {
    if (fail_next > 0) {
      --fail_next;
      res.status = 503;
      res.set_header("Retry-After", "0");
      return true;
    }
    return false;
  }
  static void outcome(httplib::Response& res, int status, const std::string& code, const std::string& text) {
    res.status = status;
    res.set_content("{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":\"" + code +
                        "\",\"diagnostics\":\"" + text + "\"}]}",
                    "application/fhir+json");
  }

  static std::map<std::string, std::string> form(const std::string& body) {
    std::map<std::string, std::string> out;
    size_t i = 0;
    while (i <= body.size()) {
      size_t j = body.find('&', i);
      if (j == std::string::npos) j = body.size();
      std::string kv = body.substr(i, j - i);
      size_t eq = kv.find('=');
      auto dec = [](const std::string& v) {
        std::string o;
        for (size_t k = 0; k < v.size(); ++k) {
          if (v[k] == '+') o.push_back(' ');
          else if (v[k] == '%' && k + 2 < v.size()) {
            o.push_back(char(std::stoi(v.substr(k + 1, 2), nullptr, 16)));
            k += 2;
          } else o.push_back(v[k]);
        }
        return o;
      };
      if (eq != std::string::npos) out[dec(kv.substr(0, eq))] = dec(kv.substr(eq + 1));
      i = j + 1;
    }
    return out;
  }
  bool assertion_ok(const std::string& jwt) {
    auth::Jwt parsed;
    std::string reason;
    if (auth::parse_jwt(jwt, &parsed, &reason) != auth::AuthStatus::ok) return false;
    auto key = auth::key_from_pem(client_public_pem);
    if (!key) return false;
    if (auth::verify_jws(parsed, *key, &reason) != auth::AuthStatus::ok) return false;
    const json::Value& c = parsed.claims;
    return json::string_or(c, "iss") == client_id && json::string_or(c, "sub") == client_id &&
           json::string_or(c, "aud") == token_url && !json::string_or(c, "jti").empty() && json::get(c, "exp");
  }

  void token(const httplib::Request& req, httplib::Response& res) {
    if (token_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(token_delay_ms.load()));
    std::lock_guard<std::mutex> lk(mu);
    token_requests++;
    last_token_body = req.body;
    last_token_auth = req.get_header_value("Authorization");
    auto f = form(req.body);
    bool ok = false;
    if (!last_token_auth.empty()) {
      ok = last_token_auth == "Basic " + b64::std_encode(client_id + ":" + client_secret);
    } else if (f.count("client_assertion")) {
      ok = !client_public_pem.empty() && f["client_id"] == client_id &&
           f["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" &&
           assertion_ok(f["client_assertion"]);
    } else {
      ok = f["client_id"] == client_id && f["client_secret"] == client_secret;
    }
    if (!ok || f["grant_type"] != "client_credentials") {
      res.status = 401;
      res.set_content("{\"error\":\"invalid_client\",\"error_description\":\"bad client credentials\"}",
                      "application/json");
      return;
    }
    std::string tok = "tok-" + std::to_string(token_requests);
    valid_tokens.insert(tok);
    res.set_content("{\"access_token\":\"" + tok + "\",\"token_type\":\"Bearer\",\"expires_in\":" +
                        std::to_string(expires_in) + "}",
                    "application/json");
  }

  void single(const httplib::Request& req, httplib::Response& res, const std::string& method, const std::string& type,
              const std::string& id) {
    std::lock_guard<std::mutex> lk(mu);
    requests.push_back(method + " /" + type + "/" + id);
    if (!authorized(req, res) || injected_failure(res)) return;
    std::string key = type + "/" + id;
    if (method == "GET") {
      auto it = store.find(key);
      if (it == store.end()) return outcome(res, 404, "not-found", "unknown");
      if (it->second.deleted) return outcome(res, 410, "deleted", "deleted");
      res.set_header("ETag", "W/\"" + std::to_string(it->second.version) + "\"");
      res.set_content(it->second.body, "application/fhir+json");
      return;
    }
    if (int s = check_if_match(key, req.get_header_value("If-Match"))) return outcome(res, s, "conflict", "version conflict");
    if (method == "PUT" && refuse_ids.count(key)) return outcome(res, 422, "invariant", "refused by policy");
    auto [status, version] = method == "PUT" ? apply_put(key, req.body) : apply_delete(key);
    if (fail_after_apply > 0) {
      --fail_after_apply;
      return outcome(res, 500, "exception", "lost acknowledgement");
    }
    res.status = status;
    if (version) res.set_header("ETag", "W/\"" + std::to_string(version) + "\"");
  }

  void bundle(const httplib::Request& req, httplib::Response& res) {
    if (bundle_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(bundle_delay_ms.load()));
    std::lock_guard<std::mutex> lk(mu);
    requests.push_back("POST /");
    if (!authorized(req, res) || injected_failure(res)) return;
    if (refuse_bundles) return outcome(res, 501, "not-supported", "bundles not supported");
    json::ParseOptions po;
    po.preserve_numbers = true;
    auto b = json::parse(req.body, po);
    if (!b) return outcome(res, 400, "invalid", "not json");
    std::string type = json::string_or(*b, "type");
    if ((type == "transaction" && !transaction) || (type == "batch" && !batch))
      return outcome(res, 501, "not-supported", "not supported");
    const json::Array* entries = json::get_array(*b, "entry");
    bundle_sizes.push_back(entries ? entries->size() : 0);
    json::Array out;
    auto response_entry = [](int status, int version) {
      json::Object r;
      r["status"] = json::Value(std::to_string(status) + (status < 300 ? " OK" : " Error"));
      if (version) r["etag"] = json::Value("W/\"" + std::to_string(version) + "\"");
      json::Object e;
      e["response"] = json::Value(r);
      return json::Value(e);
    };
    if (type == "transaction") {
      for (const auto& e : *entries) {
        const json::Value* rq = json::get(e, "request");
        std::string key = json::string_or(*rq, "url");
        if (check_if_match(key, json::string_or(*rq, "ifMatch"))) return outcome(res, 412, "conflict", "version conflict in " + key);
        if (json::string_or(*rq, "method") == "PUT" && refuse_ids.count(key)) return outcome(res, 422, "invariant", "refused");
      }
    }
    for (const auto& e : *entries) {
      const json::Value* rq = json::get(e, "request");
      std::string key = json::string_or(*rq, "url");
      std::string m = json::string_or(*rq, "method");
      if (type == "batch") {
        if (int s = check_if_match(key, json::string_or(*rq, "ifMatch"))) {
          out.push_back(response_entry(s, 0));
          continue;
        }
        if (m == "PUT" && refuse_ids.count(key)) {
          out.push_back(response_entry(422, 0));
          continue;
        }
      }
      auto [status, version] = m == "PUT" ? apply_put(key, json::write(*json::get(e, "resource"))) : apply_delete(key);
      out.push_back(response_entry(status, version));
    }
    if (fail_after_apply > 0) {
      --fail_after_apply;
      return outcome(res, 500, "exception", "lost acknowledgement");
    }
    json::Object rb;
    rb["resourceType"] = json::Value(std::string("Bundle"));
    rb["type"] = json::Value(type + "-response");
    rb["entry"] = json::Value(out);
    res.set_content(json::write(json::Value(rb)), "application/fhir+json");
  }

  httplib::Server srv_;
  std::thread th_;
  int port_ = 0;
};

}  // namespace ef::testing
