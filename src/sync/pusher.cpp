// sync/pusher.cpp — see pusher.h.
#include "sync/pusher.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>

#include "util/log.h"
#include "util/time.h"

namespace ef::sync {

int64_t backoff_ms(int64_t failures, int initial_s, int max_s, double r01) {
  if (failures < 1) failures = 1;
  int64_t d = int64_t(std::max(1, initial_s)) * 1000;
  int64_t cap = int64_t(std::max(initial_s, max_s)) * 1000;
  for (int64_t i = 1; i < failures && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  r01 = std::min(std::max(r01, 0.0), 0.999999);
  return d / 2 + int64_t(double(d - d / 2) * r01);
}

// One push in progress: the entries and what became of each.
struct Pusher::Batch {
  std::vector<Entry> entries;
  std::vector<bool> done;
  std::vector<store::SyncAck> acks;
  std::vector<store::SyncConflictRow> conflicts;
  PushReport report;

  void ack(size_t i, std::optional<std::string> upstream_version) {
    const Entry& e = entries[i];
    store::SyncAck a;
    a.type = e.type;
    a.id = e.id;
    a.local_version = e.local_version;
    if (!e.is_delete && upstream_version && !upstream_version->empty()) a.upstream_version = upstream_version;
    acks.push_back(std::move(a));
    done[i] = true;
    report.acknowledged++;
  }
  void record(size_t i, const std::string& kind, const std::string& resolution, const std::string& upstream_version,
              const std::string& detail, int64_t now) {
    const Entry& e = entries[i];
    store::SyncConflictRow r;
    r.at = now;
    r.type = e.type;
    r.id = e.id;
    r.local_version = e.local_version;
    r.change_seq = e.seq;
    r.kind = kind;
    r.expected_version = e.if_match;
    r.upstream_version = upstream_version;
    r.resolution = resolution;
    r.detail = detail;
    conflicts.push_back(std::move(r));
    if (kind == "rejected") report.rejected++;
    else report.conflicts++;
  }
};

namespace {

bool retryable(int status) { return status == 0 || status == 408 || status == 425 || status == 429 || status >= 500; }

std::string resource_version_of(const HttpResponse& r) {
  std::string v = etag_version(r.etag);
  if (v.empty()) v = location_version(r.location);
  if (v.empty() && !r.body.empty()) {
    json::ParseOptions o;
    o.preserve_numbers = true;
    auto b = json::parse(r.body, o);
    if (b)
      if (const json::Value* meta = json::get(*b, "meta")) v = json::string_or(*meta, "versionId");
  }
  return v;
}

std::string http_problem(const HttpResponse& r) {
  if (r.status == 0) return r.error;
  std::string s = "HTTP " + std::to_string(r.status);
  std::string d = outcome_text(r.body);
  if (d.empty() && r.status == 401 && !r.www_authenticate.empty()) {
    size_t p = r.www_authenticate.find("error_description=\"");
    if (p != std::string::npos) {
      size_t q = r.www_authenticate.find('"', p + 19);
      d = r.www_authenticate.substr(p + 19, q == std::string::npos ? std::string::npos : q - p - 19);
      if (d.size() > 200) d = d.substr(0, 200) + "...";
    }
  }
  return d.empty() ? s : s + ": " + d;
}

std::string outcome_code(const std::string& body) {
  auto v = json::parse(body);
  if (!v) return {};
  const json::Array* issues = json::get_array(*v, "issue");
  if (!issues || issues->empty()) return {};
  return json::string_or((*issues)[0], "code");
}

int64_t parse_retry_after_ms(const std::string& v) {
  if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoll(v) * 1000;
}

Status readable(const std::string& path, const char* key) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status(Err::invalid, std::string("sync.") + key + " '" + path + "' cannot be read");
  return Status();
}

}  // namespace

Pusher::Pusher(store::Database& db, SyncConfig cfg, const Clock& clock)
    : db_(db), cfg_(std::move(cfg)), clock_(clock), state_(db) {
  auto ep = parse_endpoint(cfg_.upstream);
  if (ep) http_ = std::make_unique<HttpClient>(*ep, cfg_.ca_file, cfg_.timeout_seconds);
  if (cfg_.uses_token()) tokens_ = std::make_unique<TokenClient>(cfg_, clock_);
  mode_ = cfg_.bundle;
  mode_shown_ = int(mode_);
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  random_ = [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
}

Pusher::~Pusher() { stop(); }

Status Pusher::init() {
  if (!cfg_.enabled) return Status(Err::invalid, "sync is not enabled in the configuration");
  if (!http_) return Status(Err::invalid, "sync.upstream '" + cfg_.upstream + "' is not a usable URL");
  if (cfg_.uses_token()) {
    Status st = cfg_.client_auth == ClientAuth::private_key_jwt ? readable(cfg_.client_key_file, "client_key_file")
                                                                : readable(cfg_.client_secret_file, "client_secret_file");
    if (!st) return st;
  }
  if (!cfg_.ca_file.empty()) {
    Status st = readable(cfg_.ca_file, "ca_file");
    if (!st) return st;
  }
  auto row = state_.ensure(cfg_.upstream, clock_.now_ms());
  if (!row) return row.status();
  return Status();
}

void Pusher::start() {
  std::lock_guard<std::mutex> lk(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  running_ = true;
  thread_ = std::thread([this] { run(); });
  log::info("sync.started", {{"upstream", cfg_.upstream}, {"interval_seconds", cfg_.interval_seconds}});
}

void Pusher::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    shutting_down_ = true;
  }
  cv_.notify_all();
  if (http_) http_->abort();
  if (tokens_) tokens_->abort();
  thread_.join();
  running_ = false;
  log::info("sync.stopped", {{"upstream", cfg_.upstream}});
}

void Pusher::wake(bool force) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (failures_ > 0 && !force) return;
    woken_ = true;
  }
  cv_.notify_all();
}

void Pusher::run() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stopping_) {
    lk.unlock();
    auto r = push_once();
    lk.lock();
    if (stopping_) break;
    int64_t delay;
    if (!r) {
      failures_++;
      delay = backoff_ms(failures_, cfg_.backoff_initial_seconds, cfg_.backoff_max_seconds, random_());
      delay = std::max(delay, std::min<int64_t>(retry_after_ms_, int64_t(cfg_.backoff_max_seconds) * 1000));
      log::warn("sync.push_failed", {{"upstream", cfg_.upstream}, {"error", r.status().message},
                                     {"failures", failures_}, {"retry_in_ms", delay}});
    } else {
      if (failures_ > 0) log::info("sync.recovered", {{"upstream", cfg_.upstream}});
      failures_ = 0;
      delay = r->more ? 0 : int64_t(cfg_.interval_seconds) * 1000;
      if (r->entries > 0)
        log::info("sync.pushed", {{"changes", r->changes}, {"entries", r->entries},
                                  {"conflicts", r->conflicts}, {"rejected", r->rejected},
                                  {"pushed_seq", r->pushed_seq}, {"mode", r->mode}});
    }
    next_attempt_ms_ = clock_.now_ms() + delay;
    if (delay > 0) cv_.wait_for(lk, std::chrono::milliseconds(delay), [this] { return stopping_ || woken_; });
    woken_ = false;
  }
}

HttpResponse Pusher::call(const std::string& method, const std::string& path, const std::string& body,
                          const std::string& if_match, Status* err) {
  Headers h = {{"Accept", "application/fhir+json"}};
  if (!if_match.empty()) h.push_back({"If-Match", "W/\"" + if_match + "\""});
  if (method == "PUT" || method == "POST") h.push_back({"Prefer", "return=minimal"});
  HttpResponse r = send_with_token(*http_, tokens_.get(), method, path, h, err, body);
  if (r.status == 429 || r.status == 503) retry_after_ms_ = parse_retry_after_ms(r.retry_after);
  return r;
}

Status Pusher::resolve_mode() {
  if (mode_ != BundleMode::auto_detect) return Status();
  Status err;
  HttpResponse r = call("GET", "/metadata", "", "", &err);
  if (!err.ok()) return err;
  if (r.status == 0 || retryable(r.status))
    return Status(Err::unavailable, "upstream " + cfg_.upstream + "/metadata: " + http_problem(r));
  bool tx = false, batch = false;
  if (r.status == 200) {
    auto v = json::parse(r.body);
    if (v)
      if (const json::Array* rest = json::get_array(*v, "rest"))
        for (const json::Value& rs : *rest)
          if (const json::Array* ints = json::get_array(rs, "interaction"))
            for (const json::Value& i : *ints) {
              std::string code = json::string_or(i, "code");
              tx = tx || code == "transaction";
              batch = batch || code == "batch";
            }
    mode_ = tx ? BundleMode::transaction : batch ? BundleMode::batch : BundleMode::none;
  } else {
    mode_ = BundleMode::transaction;  // unknown: try, and fall back when refused
  }
  mode_shown_ = int(mode_);
  log::info("sync.mode", {{"upstream", cfg_.upstream}, {"mode", to_string(mode_)}});
  return Status();
}

Status Pusher::resolve_conflict(Batch& b, size_t i, int status) {
  const Entry& e = b.entries[i];
  Status err;
  HttpResponse g = call("GET", e.path(), "", "", &err);
  if (!err.ok()) return err;
  if (retryable(g.status) || g.status == 401 || g.status == 403)
    return Status(Err::unavailable, "reading " + e.type + "/" + e.id + " upstream after a conflict: " + http_problem(g));
  bool gone = g.status == 404 || g.status == 410;
  std::string theirs;
  if (g.status == 200) {
    theirs = resource_version_of(g);
    if (!e.is_delete && same_content(e.body, g.body)) {
      b.ack(i, theirs);  // our own earlier push whose acknowledgement was lost
      return Status();
    }
  } else if (e.is_delete && gone) {
    b.ack(i, std::nullopt);
    return Status();
  }
  int64_t now = clock_.now_ms();
  std::string up = gone ? "deleted" : theirs;
  std::string detail = "HTTP " + std::to_string(status) + ": upstream has " +
                       (gone ? std::string("deleted it") : "version " + (theirs.empty() ? "?" : theirs)) +
                       (e.if_match.empty() ? std::string(", no version was expected")
                                           : ", the edge expected version " + e.if_match);
  if (cfg_.conflict_policy != ConflictPolicy::edge_wins) {
    const char* res = cfg_.conflict_policy == ConflictPolicy::skip_and_report ? "skipped"
                      : cfg_.conflict_policy == ConflictPolicy::upstream_wins ? "kept-upstream"
                                                                               : "pending";
    b.record(i, "conflict", res, up, detail, now);
    if (cfg_.conflict_policy == ConflictPolicy::manual) b.conflicts.back().upstream_body = gone ? std::string() : g.body;
    if (cfg_.conflict_policy == ConflictPolicy::upstream_wins)
      b.conflicts.back().detail += "; the upstream version is kept (the next pull brings it here)";
    b.conflicts.back().direction = "push";
    b.done[i] = true;
    log::warn("sync.conflict", {{"resource", e.type + "/" + e.id}, {"resolution", res}, {"detail", detail}});
    return Status();
  }
  HttpResponse r = call(e.is_delete ? "DELETE" : "PUT", e.path(), e.body, "", &err);
  if (!err.ok()) return err;
  if (retryable(r.status) || r.status == 401 || r.status == 403)
    return Status(Err::unavailable, "overwriting " + e.type + "/" + e.id + " upstream: " + http_problem(r));
  if ((r.status >= 200 && r.status < 300) || (e.is_delete && (r.status == 404 || r.status == 410))) {
    b.record(i, "conflict", "overwritten", up, detail, now);
    b.ack(i, resource_version_of(r));
    log::warn("sync.conflict", {{"resource", e.type + "/" + e.id}, {"resolution", "overwritten"}, {"detail", detail}});
    return Status();
  }
  b.record(i, "rejected", "rejected", up, detail + "; overwriting failed: " + http_problem(r), now);
  b.done[i] = true;
  return Status();
}

Status Pusher::send_single(Batch& b, size_t i) {
  const Entry& e = b.entries[i];
  Status err;
  HttpResponse r = call(e.is_delete ? "DELETE" : "PUT", e.path(), e.body, e.if_match, &err);
  if (!err.ok()) return err;
  if (r.status >= 200 && r.status < 300) {
    b.ack(i, resource_version_of(r));
    return Status();
  }
  if (e.is_delete && (r.status == 404 || r.status == 410)) {
    b.ack(i, std::nullopt);
    return Status();
  }
  if (r.status == 412 || r.status == 409) return resolve_conflict(b, i, r.status);
  if (r.status == 401) return Status(Err::unauthorized, "upstream refused the access token: " + http_problem(r));
  if (r.status == 403)
    return Status(Err::forbidden, "upstream forbids writing " + e.type + " with this client's token: " + http_problem(r));
  if (retryable(r.status))
    return Status(Err::unavailable, e.type + "/" + e.id + ": upstream " + http_problem(r));
  b.record(i, "rejected", "rejected", "", "upstream refused " + std::string(e.is_delete ? "DELETE" : "PUT") + " " +
                                               e.type + "/" + e.id + ": " + http_problem(r),
           clock_.now_ms());
  b.done[i] = true;
  log::warn("sync.rejected", {{"resource", e.type + "/" + e.id}, {"detail", http_problem(r)}});
  return Status();
}

Status Pusher::send_singles(Batch& b) {
  for (size_t i = 0; i < b.entries.size(); ++i) {
    if (b.done[i]) continue;
    Status st = send_single(b, i);
    if (!st) return st;
  }
  return Status();
}

Status Pusher::send_bundle(Batch& b) {
  bool tx = mode_ == BundleMode::transaction;
  Status err;
  HttpResponse r = call("POST", "", make_bundle(b.entries, tx, http_->endpoint().url()), "", &err);
  if (!err.ok()) return err;
  const char* kind = tx ? "transaction" : "batch";
  if (r.status >= 200 && r.status < 300) {
    auto res = parse_bundle_response(r.body, b.entries.size());
    if (tx) {
      // A successful transaction applied every entry, whether or not we can read the details.
      for (size_t i = 0; i < b.entries.size(); ++i)
        b.ack(i, res ? std::optional<std::string>((*res)[i].version) : std::nullopt);
      return Status();
    }
    if (!res) return Status(Err::unavailable, std::string("batch response: ") + res.status().message);
    for (size_t i = 0; i < b.entries.size(); ++i) {
      const EntryResult& er = (*res)[i];
      const Entry& e = b.entries[i];
      if (er.status >= 200 && er.status < 300) b.ack(i, er.version);
      else if (e.is_delete && (er.status == 404 || er.status == 410)) b.ack(i, std::nullopt);
    }
    // Failed entries: conflicts are resolved and retryable ones re-sent one by one, in order.
    for (size_t i = 0; i < b.entries.size(); ++i) {
      if (b.done[i]) continue;
      const EntryResult& er = (*res)[i];
      Status st;
      if (er.status == 412 || er.status == 409) st = resolve_conflict(b, i, er.status);
      else if (er.status >= 400 && er.status < 500 && er.status != 401 && er.status != 403 && er.status != 408 &&
               er.status != 429 && er.status != 425) {
        b.record(i, "rejected", "rejected", "", "upstream refused " + b.entries[i].type + "/" + b.entries[i].id +
                                                    " (HTTP " + std::to_string(er.status) + ")" +
                                                    (er.diagnostics.empty() ? "" : ": " + er.diagnostics),
                 clock_.now_ms());
        b.done[i] = true;
      } else {
        st = send_single(b, i);
      }
      if (!st) return st;
    }
    return Status();
  }
  if (r.status == 401) return Status(Err::unauthorized, "upstream refused the access token: " + http_problem(r));
  if (r.status == 403) return Status(Err::forbidden, std::string("upstream forbids this client's ") + kind + ": " + http_problem(r));
  std::string code = outcome_code(r.body);
  if (r.status == 404 || r.status == 405 || r.status == 501 || code == "not-supported") {
    log::warn("sync.mode", {{"upstream", cfg_.upstream},
                            {"message", std::string("upstream refuses ") + kind + " Bundles (" + http_problem(r) +
                                            "); sending one request per change from now on"}});
    mode_ = BundleMode::none;
    mode_shown_ = int(mode_);
    return send_singles(b);
  }
  if (retryable(r.status)) return Status(Err::unavailable, std::string(kind) + ": upstream " + http_problem(r));
  // 412/409 (a precondition failed somewhere) or 400/422 (an entry refused): one by one
  // finds which entry and handles it alone.
  return send_singles(b);
}

Result<PushReport> Pusher::push_once() {
  std::lock_guard<std::mutex> push_lock(push_mu_);
  struct Invalidate {  // the cached status is stale once this push wrote anything
    Pusher* p;
    ~Invalidate() {
      std::lock_guard<std::mutex> lk(p->status_mu_);
      p->status_at_ms_ = -1;
    }
  } invalidate{this};
  if (!http_) return Status(Err::invalid, "sync.upstream is not a usable URL");
  auto row = state_.get(cfg_.upstream);
  if (!row) return row.status();
  if (!*row) {
    auto made = state_.ensure(cfg_.upstream, clock_.now_ms());
    if (!made) return made.status();
    *row = *made;
  }
  int64_t pushed = (*row)->pushed_seq;
  auto pending = state_.pending(pushed, cfg_.batch_size, cfg_.types);
  if (!pending) return pending.status();
  Batch b;
  b.report.changes = int(pending->changes.size());
  b.report.more = int(pending->changes.size()) >= cfg_.batch_size;
  b.entries = coalesce(pending->changes);
  b.done.assign(b.entries.size(), false);
  b.report.entries = int(b.entries.size());
  if (b.entries.empty()) {
    b.report.pushed_seq = pushed;
    b.report.mode = to_string(mode_);
    if (pending->covered_seq > pushed) {
      Status st = state_.commit(cfg_.upstream, pending->covered_seq, {}, {}, clock_.now_ms());
      if (!st) return st;
      b.report.pushed_seq = pending->covered_seq;
    }
    return b.report;
  }
  {
    std::vector<Entry> keep;
    for (Entry& e : b.entries) {
      auto v = state_.resource(cfg_.upstream, e.type, e.id);
      if (!v) return v.status();
      if (*v && (*v)->local_version >= e.local_version) continue;  // the upstream has it (pulled, or acknowledged)
      auto pend = state_.has_pending(cfg_.upstream, e.type, e.id);
      if (!pend) return pend.status();
      if (*pend) continue;  // held by a manual conflict until `sync resolve`
      if (*v && (*v)->upstream_version) e.if_match = *(*v)->upstream_version;
      keep.push_back(std::move(e));
    }
    b.entries = std::move(keep);
    b.done.assign(b.entries.size(), false);
    b.report.entries = int(b.entries.size());
    if (b.entries.empty()) {
      b.report.pushed_seq = std::max(pushed, pending->covered_seq);
      b.report.mode = to_string(mode_);
      Status st = state_.commit(cfg_.upstream, pending->covered_seq, {}, {}, clock_.now_ms());
      if (!st) return st;
      return b.report;
    }
  }
  retry_after_ms_ = 0;
  Status st = resolve_mode();
  if (st.ok()) st = (mode_ == BundleMode::none) ? send_singles(b) : send_bundle(b);
  b.report.mode = to_string(mode_);
  int64_t mark = progress_mark(pending->covered_seq, b.entries, b.done);
  b.report.pushed_seq = std::max(mark, pushed);
  int64_t now = clock_.now_ms();
  if (!st && shutting_down_) {
    // Interrupted by stop(): keep what was acknowledged, record no error.
    if (mark > pushed || !b.acks.empty() || !b.conflicts.empty()) state_.commit(cfg_.upstream, mark, b.acks, b.conflicts, now);
    return st;
  }
  if (!st) {
    Status w = state_.fail(cfg_.upstream, mark, b.acks, b.conflicts, st.message, now);
    if (!w) log::error("sync.state_write_failed", {{"error", w.message}});
    return st;
  }
  Status w = state_.commit(cfg_.upstream, mark, b.acks, b.conflicts, now);
  if (!w) return w;
  return b.report;
}

Status Pusher::push_resource(const std::string& type, const std::string& id, const std::string& if_match) {
  std::lock_guard<std::mutex> push_lock(push_mu_);
  if (!http_) return Status(Err::invalid, "sync.upstream is not a usable URL");
  auto row = state_.ensure(cfg_.upstream, clock_.now_ms());
  if (!row) return row.status();
  auto last = state_.latest_change(type, id);
  if (!last) return last.status();
  if (!*last) return Status(Err::not_found, type + "/" + id + " has no local version");
  Batch b;
  b.entries = coalesce({**last});
  b.entries[0].if_match = if_match;
  b.done.assign(1, false);
  retry_after_ms_ = 0;
  Status st = send_single(b, 0);
  int64_t now = clock_.now_ms();
  Status w = state_.commit(cfg_.upstream, 0, b.acks, b.conflicts, now);
  if (!st) return st;
  if (!w) return w;
  if (b.acks.empty())
    return Status(Err::conflict, "the upstream did not accept " + type + "/" + id +
                                     (b.conflicts.empty() ? std::string() : ": " + b.conflicts.back().detail));
  return Status();
}

Result<PushReport> Pusher::push_until_empty(int max_batches) {
  PushReport total;
  for (int n = 0; n < max_batches; ++n) {
    auto r = push_once();
    if (!r) return r.status();
    total.changes += r->changes;
    total.entries += r->entries;
    total.acknowledged += r->acknowledged;
    total.conflicts += r->conflicts;
    total.rejected += r->rejected;
    total.pushed_seq = r->pushed_seq;
    total.mode = r->mode;
    total.more = r->more;
    if (!r->more) break;
  }
  return total;
}

static void fill_health(SyncStatus& s, int64_t now) {
  s.over_cap = s.queue_length > s.max_queue;
  if (s.over_cap) {
    s.health = "warn";
    s.health_reason = "sync queue holds " + std::to_string(s.queue_length) + " changes, above max_queue " +
                      std::to_string(s.max_queue) + " (upstream " + s.upstream + " not reachable or too slow?)";
  } else if (s.consecutive_failures >= 3 && s.queue_length > 0) {
    s.health = "warn";
    s.health_reason = "sync has failed " + std::to_string(s.consecutive_failures) + " times in a row; " +
                      std::to_string(s.queue_length) + " changes queued" +
                      (s.oldest_unsent_ms ? ", the oldest for " + timefmt::human_duration((now - s.oldest_unsent_ms) / 1000)
                                          : std::string()) +
                      "; last error: " + s.last_error;
  }
}

Result<SyncStatus> read_status(store::Database& db, const SyncConfig& cfg, const Clock& clock) {
  SyncStatus s;
  s.enabled = cfg.enabled;
  s.upstream = cfg.upstream;
  s.max_queue = cfg.max_queue;
  s.mode = to_string(cfg.bundle);
  s.token_configured = cfg.uses_token();
  if (cfg.upstream.empty()) return s;
  store::SyncState state(db);
  auto row = state.get(cfg.upstream);
  if (!row) return row.status();
  if (!*row) return s;  // sync never ran against this upstream
  const store::SyncStateRow& r = **row;
  s.start_seq = r.start_seq;
  s.pushed_seq = r.pushed_seq;
  s.enabled_at_ms = r.enabled_at;
  s.last_attempt_ms = r.last_attempt_at;
  s.last_success_ms = r.last_success_at;
  s.last_error = r.last_error;
  s.last_error_ms = r.last_error_at;
  s.consecutive_failures = r.consecutive_failures;
  s.pushed_total = r.pushed_total;
  auto q = state.queue(cfg.upstream, r.pushed_seq, cfg.types);
  if (!q) return q.status();
  s.queue_length = q->length;
  s.oldest_unsent_ms = q->oldest_unsent_ms;
  s.newest_seq = q->newest_seq;
  auto c = state.conflict_count(cfg.upstream, "conflict");
  if (!c) return c.status();
  s.conflicts = *c;
  auto j = state.conflict_count(cfg.upstream, "rejected");
  if (!j) return j.status();
  s.rejected = *j;
  auto pc = state.pending_count(cfg.upstream);
  if (!pc) return pc.status();
  s.pending = *pc;
  fill_health(s, clock.now_ms());
  return s;
}

SyncStatus Pusher::status() {
  int64_t now = clock_.now_ms();
  std::lock_guard<std::mutex> lk(status_mu_);
  if (status_at_ms_ >= 0 && now - status_at_ms_ < 1000 && now >= status_at_ms_) return status_cache_;
  auto s = read_status(db_, cfg_, clock_);
  SyncStatus out = s ? *s : SyncStatus();
  if (!s) {
    out.enabled = cfg_.enabled;
    out.upstream = cfg_.upstream;
    out.health = "warn";
    out.health_reason = "sync status cannot be read: " + s.status().message;
  }
  out.running = running_;
  out.mode = to_string(BundleMode(mode_shown_.load()));
  {
    std::lock_guard<std::mutex> l2(mu_);
    out.next_attempt_ms = running_ ? next_attempt_ms_ : 0;
  }
  if (tokens_) {
    TokenInfo t = tokens_->info();
    out.has_token = t.has_token;
    out.token_expires_ms = t.expires_at_ms;
    out.token_error = t.last_error;
  }
  status_cache_ = out;
  status_at_ms_ = now;
  return out;
}

json::Value SyncStatus::to_json() const {
  json::Object o;
  auto num = [&](const char* k, int64_t v) { o[k] = json::make_number(v); };
  auto str = [&](const char* k, const std::string& v) { o[k] = json::Value(v); };
  auto when = [&](const char* k, int64_t ms) {
    o[k] = ms > 0 ? json::Value(timefmt::format_instant(ms)) : json::Value();
  };
  o["enabled"] = json::Value(enabled);
  o["running"] = json::Value(running);
  str("upstream", upstream);
  str("mode", mode);
  num("queue_length", queue_length);
  when("oldest_unsent", oldest_unsent_ms);
  num("max_queue", max_queue);
  o["over_cap"] = json::Value(over_cap);
  num("start_seq", start_seq);
  num("pushed_seq", pushed_seq);
  num("newest_seq", newest_seq);
  when("enabled_at", enabled_at_ms);
  when("last_attempt", last_attempt_ms);
  when("last_success", last_success_ms);
  when("last_error_at", last_error_ms);
  o["last_error"] = last_error.empty() ? json::Value() : json::Value(last_error);
  num("consecutive_failures", consecutive_failures);
  num("pushed_total", pushed_total);
  num("conflicts", conflicts);
  num("rejected", rejected);
  num("conflicts_pending", pending);
  when("next_attempt", next_attempt_ms);
  o["token_configured"] = json::Value(token_configured);
  if (token_configured) {
    o["has_token"] = json::Value(has_token);
    when("token_expires", token_expires_ms);
    o["token_error"] = token_error.empty() ? json::Value() : json::Value(token_error);
  }
  str("health", health);
  if (!health_reason.empty()) str("health_reason", health_reason);
  return json::Value(o);
}

}  // namespace ef::sync
