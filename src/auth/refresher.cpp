// auth/refresher.cpp — see refresher.h.  One Slot per discovery issuer holds the
// single-flight state (in_flight / pending / completed counter) under its own mutex; the
// issuer's thread does every fetch, request threads only flag and wait.
#include "auth/refresher.h"

#include <algorithm>
#include <chrono>
#include <cctype>

#include "auth/jwks.h"
#include "net/http_client.h"
#include "util/json.h"
#include "util/log.h"

namespace ef::auth {

// ---- FetchCancel ----
void FetchCancel::set_abort(std::function<void()> fn) {
  std::lock_guard<std::mutex> lk(mu_);
  if (cancelled_) {
    if (fn) fn();
    return;
  }
  abort_ = std::move(fn);
}
void FetchCancel::clear() {
  std::lock_guard<std::mutex> lk(mu_);
  abort_ = nullptr;
}
void FetchCancel::cancel() {
  std::lock_guard<std::mutex> lk(mu_);
  cancelled_ = true;
  if (abort_) abort_();
}
void FetchCancel::reset() {
  std::lock_guard<std::mutex> lk(mu_);
  cancelled_ = false;
  abort_ = nullptr;
}
bool FetchCancel::cancelled() const {
  std::lock_guard<std::mutex> lk(mu_);
  return cancelled_;
}

// ---- URL policy ----
namespace {

int64_t parse_max_age(const std::string& cc) {
  std::string l = cc;
  for (char& c : l) c = char(std::tolower(static_cast<unsigned char>(c)));
  size_t p = 0;
  while ((p = l.find("max-age", p)) != std::string::npos) {
    bool boundary = p == 0 || l[p - 1] == ',' || l[p - 1] == ' ' || l[p - 1] == '\t';
    p += 7;
    if (!boundary) continue;
    while (p < l.size() && l[p] == ' ') ++p;
    if (p >= l.size() || l[p] != '=') continue;
    ++p;
    while (p < l.size() && l[p] == ' ') ++p;
    if (p < l.size() && l[p] == '"') ++p;
    int64_t v = 0;
    size_t digits = 0;
    while (p < l.size() && l[p] >= '0' && l[p] <= '9' && digits < 12) v = v * 10 + (l[p++] - '0'), ++digits;
    if (digits) return v;
  }
  return -1;
}

}  // namespace

Status check_fetch_url(const std::string& url) {
  auto u = net::parse_url(url);
  if (!u.ok()) return Status(Err::invalid, "URL '" + url + "': " + u.status().message);
  if (!net::plain_http_allowed(*u))
    return Status(Err::invalid, "URL '" + url + "': plain http is allowed only to loopback addresses; use https");
  return Status();
}

std::string discovery_url(const std::string& issuer) {
  std::string base = issuer;
  size_t t = base.find("{tenantid}");
  if (t != std::string::npos) base.replace(t, 10, "common");
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/.well-known/openid-configuration";
}

HttpResponse http_get(const HttpRequest& req) {
  HttpResponse out;
  auto u = net::parse_url(req.url);
  if (!u.ok()) {
    out.error = "invalid URL: " + u.status().message;
    return out;
  }
  if (!net::plain_http_allowed(*u)) {
    out.error = "refused: plain http is allowed only to loopback addresses";
    return out;
  }
  net::ClientOptions opt;
  opt.ca_file = req.ca_file;
  opt.timeout_seconds = int(std::min<int64_t>(std::max<int64_t>(1, req.timeout_seconds), 3600));
  opt.max_connect_seconds = opt.timeout_seconds;
  net::Client cli(*u, opt);
  net::Request r;
  r.path = u->path.empty() ? "/" : u->path;
  r.headers = {{"Accept", "application/json, application/jwk-set+json"}};
  r.max_bytes = req.max_bytes;
  r.deadline = true;  // a server dripping bytes cannot hold us forever
  if (req.cancel) req.cancel->set_abort([&cli] { cli.abort(); });
  net::Response res = cli.send(r, [&req] { return req.cancel && req.cancel->cancelled(); });
  if (req.cancel) req.cancel->clear();
  if (res.too_large) {
    out.error = "response exceeds the limit of " + std::to_string(req.max_bytes) + " bytes (max_jwks_bytes)";
    return out;
  }
  if (!res.error.empty()) {
    out.error = res.error;
    if (res.error.rfind("response not complete", 0) == 0) out.error += " (fetch_timeout_seconds)";
    return out;
  }
  out.status = res.status;
  out.body = std::move(res.body);
  out.max_age = parse_max_age(res.header("cache-control"));
  out.location = res.header("location");
  return out;
}

// ---- Refresher ----

struct Refresher::Slot {
  const IssuerConfig* ic = nullptr;
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  bool in_flight = false;
  bool pending = false;
  uint64_t completed = 0;
  int64_t last_attempt_ms = 0;  // start of the last fetch (cooldown base)
  int64_t next_due_ms = 0;
  int consecutive_errors = 0;
  int waiters = 0;
  RefreshResult last;
  FetchCancel cancel;
  std::thread th;
};

Refresher::Refresher(KeyStore& store, HttpGet get) : Refresher(store, std::move(get), Options()) {}

Refresher::Refresher(KeyStore& store, HttpGet get, Options opt) : store_(store), get_(std::move(get)), opt_(opt) {
  for (const IssuerConfig& ic : store_.config().issuers) {
    if (!ic.discovery) continue;
    auto s = std::make_unique<Slot>();
    s->ic = &ic;
    slots_[ic.issuer] = std::move(s);
  }
  store_.set_unknown_kid_handler([this](const std::string& issuer, const std::string& kid) { on_unknown_kid(issuer, kid); });
}

Refresher::~Refresher() {
  stop();
  store_.set_unknown_kid_handler(nullptr);
}

Refresher::Slot* Refresher::slot(const std::string& issuer) const {
  auto it = slots_.find(issuer);
  return it == slots_.end() ? nullptr : it->second.get();
}

int64_t Refresher::backoff_ms(const Slot& s) const {
  int64_t base = std::max<int64_t>(1, s.ic->refresh_cooldown_seconds) * 1000;
  int64_t cap = std::max<int64_t>(base, std::min<int64_t>(s.ic->refresh_seconds, 300) * 1000);
  int64_t d = base;
  for (int i = 1; i < s.consecutive_errors && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

namespace {

Status fetch_json(const HttpGet& get, const HttpRequest& req, const char* what, HttpResponse* resp) {
  *resp = get(req);
  std::string where = std::string(what) + " " + req.url + ": ";
  if (!resp->error.empty()) return Status(Err::unavailable, where + resp->error);
  if (resp->status >= 300 && resp->status < 400)
    return Status(Err::unavailable, where + "redirect (HTTP " + std::to_string(resp->status) + ") refused; configure the final URL");
  if (resp->status != 200) return Status(Err::unavailable, where + "HTTP " + std::to_string(resp->status));
  return Status();
}

}  // namespace

RefreshResult Refresher::do_refresh(Slot& s) {
  const IssuerConfig& ic = *s.ic;
  const Clock& clock = store_.clock();
  RefreshResult r;
  HttpRequest req;
  req.timeout_seconds = ic.fetch_timeout_seconds;
  req.max_bytes = size_t(ic.max_jwks_bytes);
  req.ca_file = ic.ca_file;
  req.cancel = &s.cancel;

  auto fail = [&](const std::string& msg) {
    int64_t now = clock.now_ms();
    ++s.consecutive_errors;
    r.ok = false;
    r.error = msg;
    r.next_refresh_ms = now + backoff_ms(s);
    store_.apply_fetch_error(ic.issuer, r.jwks_uri, msg, now, r.next_refresh_ms);
    return r;
  };

  std::string jwks_uri = ic.jwks_uri;
  if (jwks_uri.empty()) {
    req.url = discovery_url(ic.issuer);
    HttpResponse resp;
    Status st = check_fetch_url(req.url);
    if (st) st = fetch_json(get_, req, "discovery", &resp);
    std::string err;
    bool transient = !st;  // unreachable / HTTP error: the jwks_uri discovered before may be used
    if (st) {
      auto doc = json::parse(resp.body);
      if (!doc.ok() || !json::is_object(*doc)) {
        err = "discovery " + req.url + ": not a JSON object" + (doc.ok() ? "" : " (" + doc.status().message + ")");
      } else {
        std::string iss = json::string_or(*doc, "issuer");
        const std::string* ju = json::get_string(*doc, "jwks_uri");
        if (iss != ic.issuer)
          err = "discovery " + req.url + ": document issuer '" + iss.substr(0, 200) + "' does not equal the configured issuer";
        else if (!ju || ju->empty())
          err = "discovery " + req.url + ": no jwks_uri";
        else if (Status us = check_fetch_url(*ju); !us)
          err = "discovery " + req.url + ": jwks_uri refused: " + us.message;
        else
          jwks_uri = *ju;
      }
    } else {
      err = st.message;
    }
    if (jwks_uri.empty()) {
      std::string cached = store_.cached_jwks_uri(ic.issuer);
      if (!transient || cached.empty() || !check_fetch_url(cached).ok()) return fail(err);
      log::warn("auth.discovery_failed", {{"issuer", ic.issuer}, {"error", err}, {"using_cached_jwks_uri", cached}});
      jwks_uri = cached;
    }
  }
  r.jwks_uri = jwks_uri;
  if (Status us = check_fetch_url(jwks_uri); !us) return fail("jwks_uri refused: " + us.message);
  req.url = jwks_uri;
  HttpResponse resp;
  if (Status st = fetch_json(get_, req, "JWKS", &resp); !st) return fail(st.message);
  auto set = parse_jwks(resp.body, JwkOptions{false});
  if (!set.ok()) return fail("JWKS " + jwks_uri + ": " + set.status().message);
  for (const std::string& m : set->skipped)
    log::warn("auth.jwks_key_skipped", {{"issuer", ic.issuer}, {"jwks_uri", jwks_uri}, {"reason", m}});
  r.skipped = set->skipped;
  if (set->keys.empty()) return fail("JWKS " + jwks_uri + ": no usable key (" + std::to_string(set->skipped.size()) + " refused)");
  int64_t now = clock.now_ms();
  int64_t interval = std::max<int64_t>(1, ic.refresh_seconds);
  if (resp.max_age >= 0) interval = std::min(interval, std::clamp<int64_t>(resp.max_age, 300, 86400));
  s.consecutive_errors = 0;
  r.ok = true;
  r.keys = set->keys.size();
  r.next_refresh_ms = now + interval * 1000;
  store_.apply_fetch_success(ic.issuer, jwks_uri, set->keys, now, r.next_refresh_ms);
  return r;
}

void Refresher::loop(Slot& s) {
  const Clock& clock = store_.clock();
  std::unique_lock<std::mutex> lk(s.mu);
  while (!stopping_) {
    int64_t now = clock.now_ms();
    if (s.pending || now >= s.next_due_ms) {
      s.pending = false;
      s.in_flight = true;
      s.last_attempt_ms = now;
      lk.unlock();
      RefreshResult r = do_refresh(s);
      lk.lock();
      s.in_flight = false;
      s.last = r;
      s.next_due_ms = r.next_refresh_ms;
      ++s.completed;
      s.cv.notify_all();
      continue;
    }
    int64_t wait = std::min<int64_t>(s.next_due_ms - now, 60000);
    s.cv.wait_for(lk, std::chrono::milliseconds(std::max<int64_t>(1, wait)));
  }
}

void Refresher::housekeeping() {
  std::unique_lock<std::mutex> lk(hk_mu_);
  while (!stopping_) {
    hk_cv_.wait_for(lk, std::chrono::milliseconds(std::max<int64_t>(10, opt_.housekeeping_ms)));
    if (stopping_) break;
    lk.unlock();
    store_.sync_pins_from_db();
    store_.tick();
    lk.lock();
  }
}

void Refresher::start() {
  if (running_.exchange(true)) return;
  stopping_ = false;
  int64_t now = store_.clock().now_ms();
  for (auto& [issuer, s] : slots_) {
    int64_t next = store_.next_refresh_ms(issuer);
    // Fresh cached keys: keep the persisted schedule; else fetch at once (in the background).
    s->cancel.reset();
    s->next_due_ms = store_.has_discovered_keys(issuer) && next > now ? next : now;
    Slot* sp = s.get();
    s->th = std::thread([this, sp] { loop(*sp); });
  }
  housekeeper_ = std::thread([this] { housekeeping(); });
}

void Refresher::stop() {
  if (!running_) return;
  stopping_ = true;
  for (auto& [issuer, s] : slots_) {
    s->cancel.cancel();
    std::lock_guard<std::mutex> lk(s->mu);
    s->cv.notify_all();
  }
  {
    std::lock_guard<std::mutex> lk(hk_mu_);
    hk_cv_.notify_all();
  }
  if (housekeeper_.joinable()) housekeeper_.join();
  for (auto& [issuer, s] : slots_)
    if (s->th.joinable()) s->th.join();
  running_ = false;
}

RefreshResult Refresher::refresh_now(const std::string& issuer) {
  Slot* s = slot(issuer);
  if (!s) {
    RefreshResult r;
    const IssuerConfig* ic = store_.issuer_config(issuer);
    r.error = ic ? "issuer '" + issuer + "' has \"discovery\": false (offline: keys are pinned only)"
                 : "issuer '" + issuer + "' is not configured";
    return r;
  }
  std::unique_lock<std::mutex> lk(s->mu);
  if (!running_) {
    s->in_flight = true;
    s->last_attempt_ms = store_.clock().now_ms();
    lk.unlock();
    RefreshResult r = do_refresh(*s);
    lk.lock();
    s->in_flight = false;
    s->last = r;
    ++s->completed;
    s->cv.notify_all();
    return r;
  }
  uint64_t target = s->completed + (s->in_flight ? 2 : 1);  // a fetch that starts after this call
  s->pending = true;
  s->cv.notify_all();
  int64_t limit = 2 * (s->ic->fetch_timeout_seconds + 1) * 1000 + 1000;
  if (!s->cv.wait_for(lk, std::chrono::milliseconds(limit), [&] { return s->completed >= target || stopping_; })) {
    RefreshResult r;
    r.error = "timed out waiting for the refresh";
    return r;
  }
  return s->last;
}

bool Refresher::on_unknown_kid(const std::string& issuer, const std::string& kid) {
  Slot* s = slot(issuer);
  if (!s || !running_ || stopping_) return false;
  std::unique_lock<std::mutex> lk(s->mu);
  int64_t now = store_.clock().now_ms();
  if (!s->in_flight && !s->pending) {
    int64_t cooldown = std::max<int64_t>(0, s->ic->refresh_cooldown_seconds) * 1000;
    if (s->last_attempt_ms != 0 && now - s->last_attempt_ms < cooldown) {
      store_.count_unknown_kid_refresh(issuer, false);
      return false;
    }
    s->pending = true;
    store_.count_unknown_kid_refresh(issuer, true);
    log::info("auth.unknown_kid_refresh", {{"issuer", issuer}, {"kid", kid.substr(0, 100)}});
    s->cv.notify_all();
  }
  if (opt_.unknown_kid_wait_ms <= 0 || s->waiters >= opt_.max_waiters) return false;
  uint64_t target = s->completed + 1;
  ++s->waiters;
  bool done = s->cv.wait_for(lk, std::chrono::milliseconds(opt_.unknown_kid_wait_ms),
                             [&] { return s->completed >= target || stopping_; });
  --s->waiters;
  return done && !stopping_;
}

uint64_t Refresher::completed(const std::string& issuer) const {
  Slot* s = slot(issuer);
  if (!s) return 0;
  std::lock_guard<std::mutex> lk(s->mu);
  return s->completed;
}

bool Refresher::wait_completed(const std::string& issuer, uint64_t n, int timeout_ms) const {
  Slot* s = slot(issuer);
  if (!s) return false;
  std::unique_lock<std::mutex> lk(s->mu);
  return s->cv.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return s->completed >= n; });
}

}  // namespace ef::auth
