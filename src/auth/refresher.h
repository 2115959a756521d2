// auth/refresher.h — keeps the KeyStore's discovered keys current: OpenID discovery,
// JWKS fetch over HTTPS, a background refresh thread per issuer, and the single-flight,
// rate-limited refresh that a token with an unknown kid may trigger.
//
// Owns:
//  * Discovery: GET {issuer}/.well-known/openid-configuration; the document's "issuer"
//    must equal the configured issuer byte for byte, its "jwks_uri" gives the key set.
//    An explicit jwks_uri in the config skips discovery.  A "{tenantid}" issuer (Entra
//    multi-tenant) is discovered at its "common" form, e.g.
//    https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration,
//    whose "issuer" is the template itself; for any other templated issuer set jwks_uri.
//    When the discovery document cannot be fetched (unreachable, HTTP error) but a
//    jwks_uri was discovered before, that one is used; a document that answers with
//    another issuer or no jwks_uri is an error.
//  * Fetch policy (http_get, on net/http_client): https with certificate and host-name
//    verification (ca_file when configured, else the system CAs); plain http only to
//    loopback (net::is_loopback_host: 127.0.0.0/8, localhost, [::1]) for tests and
//    sidecars; connect/read/write timeouts and an overall deadline of
//    fetch_timeout_seconds; bodies over max_jwks_bytes are aborted while streaming;
//    redirects are refused (the configured or discovered URL must be final).
//  * JWKS: parsed by auth/jwks.h with symmetric keys refused; a bad key is skipped and
//    logged, the rest load; a document with no usable key is an error (keys untouched).
//  * Schedule: after a success the next fetch is after refresh_seconds, or sooner when the
//    JWKS response's Cache-Control max-age (clamped to [5 min, 24 h]) is shorter.  After
//    a failure: exponential back-off from refresh_cooldown_seconds, capped at
//    min(refresh_seconds, 5 min).  Start-up never waits for the network: when the cache
//    holds keys still within their persisted next_refresh time, the first fetch waits for
//    it; otherwise it happens at once, in the background.
//  * Unknown kid: KeyStore::unknown_kid() → on_unknown_kid(): if no fetch of that issuer
//    started within refresh_cooldown_seconds, one is started (single-flight: concurrent
//    callers join the one in flight); otherwise the call is only counted (rate_limited).
//    The caller then waits up to unknown_kid_wait_ms (default 2 s) for that fetch, so a
//    validator that re-runs find() after unknown_kid() when generation() changed accepts
//    the first token of a real key rotation.  At most max_waiters request threads per
//    issuer wait at once; the rest return immediately.
//  * Issuers with "discovery": false are never fetched: no network call at all.
//  * Logs carry the issuer, URL and error, never key material.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "auth/config.h"
#include "auth/key_store.h"
#include "util/status.h"

namespace ef::auth {

// Lets stop() abort a fetch that is blocked on the network.
class FetchCancel {
 public:
  void set_abort(std::function<void()> fn);  // runs fn at once when already cancelled
  void clear();
  void cancel();
  void reset();  // un-cancel (before a restart)
  bool cancelled() const;

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  std::function<void()> abort_;
};

struct HttpRequest {
  std::string url;
  int64_t timeout_seconds = 10;
  size_t max_bytes = 1 << 20;
  std::string ca_file;
  FetchCancel* cancel = nullptr;  // optional
};

struct HttpResponse {
  std::string error;     // transport/policy failure ("" = got a response)
  int status = 0;
  std::string body;
  int64_t max_age = -1;  // Cache-Control max-age seconds, -1 when absent
  std::string location;  // for 3xx
};

using HttpGet = std::function<HttpResponse(const HttpRequest&)>;

// The real fetch (cpp-httplib).  Applies the policy described above.
HttpResponse http_get(const HttpRequest& req);
// ok when url is https, or http to a loopback host; names the problem otherwise.
Status check_fetch_url(const std::string& url);
// "{issuer}/.well-known/openid-configuration" ("{tenantid}" → "common").
std::string discovery_url(const std::string& issuer);

struct RefreshResult {
  bool ok = false;
  std::string error;
  std::string jwks_uri;
  size_t keys = 0;                   // usable keys in the JWKS
  std::vector<std::string> skipped;  // refused keys, one message each
  int64_t next_refresh_ms = 0;
};

class Refresher {
 public:
  struct Options {
    int unknown_kid_wait_ms = 2000;
    int max_waiters = 4;
    int64_t housekeeping_ms = 60000;  // KeyStore::tick + sync_pins_from_db period
  };
  // store must outlive the refresher.  Installs itself as the store's unknown-kid handler.
  Refresher(KeyStore& store, HttpGet get = http_get);
  Refresher(KeyStore& store, HttpGet get, Options opt);
  ~Refresher();  // stop()

  // Starts one background thread per issuer with discovery enabled, and one housekeeping
  // thread (every housekeeping_ms: expiry re-evaluated, pins/imports made by another
  // process picked up from the database).  Returns at once.
  void start();
  // Stops the threads, aborting fetches in flight.  Idempotent.
  void stop();

  // Fetches now and waits for the result (CLI `keys refresh`).  When the threads run,
  // joins/queues a fetch on the issuer's thread; otherwise fetches on the calling thread.
  RefreshResult refresh_now(const std::string& issuer);
  // See above.  Returns true when a fetch completed while waiting.
  bool on_unknown_kid(const std::string& issuer, const std::string& kid);

  // Test hooks: fetches completed for issuer since construction.
  uint64_t completed(const std::string& issuer) const;
  // Blocks until `n` fetches of issuer completed or timeout; true when reached.
  bool wait_completed(const std::string& issuer, uint64_t n, int timeout_ms) const;

 private:
  struct Slot;
  RefreshResult do_refresh(Slot& s);
  void loop(Slot& s);
  Slot* slot(const std::string& issuer) const;
  int64_t backoff_ms(const Slot& s) const;

  KeyStore& store_;
  HttpGet get_;
  Options opt_;
  std::map<std::string, std::unique_ptr<Slot>> slots_;
  void housekeeping();
  std::thread housekeeper_;
  std::mutex hk_mu_;
  std::condition_variable hk_cv_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace ef::auth
