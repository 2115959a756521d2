// sync/puller.cpp — see puller.h.
#include "sync/puller.h"

#include <algorithm>
#include <chrono>

#include "service/terminology.h"
#include "sync/outbox.h"
#include "sync/pull_logic.h"
#include "util/log.h"
#include "util/time.h"

namespace ef::sync {

namespace {

bool retryable(int status) { return status == 0 || status == 408 || status == 425 || status == 429 || status >= 500; }

std::string problem(const HttpResponse& r) {
  if (r.status == 0) return r.too_large ? "the upstream's page is larger than sync.pull_max_page_bytes" : r.error;
  std::string d = outcome_text(r.body);
  return "HTTP " + std::to_string(r.status) + (d.empty() ? "" : ": " + d);
}

// Err codes a write check (validation.on_write) refuses with: the resource is passed over.
bool refused_by_check(const Status& s) { return s.code == Err::invalid || s.code == Err::unprocessable; }

}  // namespace

// One run of one search.
struct Puller::Run {
  const PullQuery& q;
  PullReport report;
  int64_t cursor_ms = 0;
  int64_t newest_history_ms = 0;
};

Puller::Puller(store::Database& db, service::Repository& repo, SyncConfig cfg, const Clock& clock)
    : db_(db), repo_(repo), cfg_(std::move(cfg)), clock_(clock), state_(db) {
  auto ep = parse_endpoint(cfg_.upstream);
  if (ep) http_ = std::make_unique<HttpClient>(*ep, cfg_.ca_file, cfg_.timeout_seconds);
  if (cfg_.uses_token()) tokens_ = std::make_unique<TokenClient>(cfg_, clock_);
}

Puller::~Puller() { stop(); }

Status Puller::init() {
  if (!http_) return Status(Err::invalid, "sync.upstream '" + cfg_.upstream + "' is not a usable URL");
  for (const PullQuery& q : cfg_.pull) {
    auto r = state_.pull_ensure(cfg_.upstream, q.search, clock_.now_ms());
    if (!r) return r.status();
  }
  return Status();
}

void Puller::start() {
  std::lock_guard<std::mutex> lk(mu_);
  if (thread_.joinable() || cfg_.pull.empty()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
  log::info("sync.pull_started", {{"upstream", cfg_.upstream}, {"searches", int64_t(cfg_.pull.size())}});
}

void Puller::stop() {
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
}

void Puller::run() {
  std::vector<int64_t> due(cfg_.pull.size(), 0);
  std::vector<int64_t> failures(cfg_.pull.size(), 0);
  std::unique_lock<std::mutex> lk(mu_);
  while (!stopping_) {
    int64_t now = clock_.now_ms();
    int64_t next = now + 3600 * 1000;
    for (size_t i = 0; i < cfg_.pull.size() && !stopping_; ++i) {
      if (due[i] > now) {
        next = std::min(next, due[i]);
        continue;
      }
      lk.unlock();
      auto r = pull_once(i);
      lk.lock();
      if (stopping_) break;
      now = clock_.now_ms();
      if (!r) {
        failures[i]++;
        int64_t d = backoff_ms(failures[i], cfg_.backoff_initial_seconds, cfg_.backoff_max_seconds, 0.75);
        due[i] = now + std::min<int64_t>(d, int64_t(cfg_.pull[i].interval_seconds) * 1000);
        log::warn("sync.pull_failed", {{"search", cfg_.pull[i].search}, {"error", r.status().message},
                                       {"failures", failures[i]}});
      } else {
        failures[i] = 0;
        due[i] = r->more ? now : now + int64_t(cfg_.pull[i].interval_seconds) * 1000;
        if (r->received || r->deleted || r->conflicts || r->rejected)
          log::info("sync.pulled", {{"search", cfg_.pull[i].search}, {"pages", r->pages}, {"received", r->received},
                                    {"deleted", r->deleted}, {"conflicts", r->conflicts}, {"rejected", r->rejected}});
      }
      next = std::min(next, due[i]);
    }
    if (stopping_) break;
    int64_t wait = std::max<int64_t>(0, next - clock_.now_ms());
    if (wait > 0) cv_.wait_for(lk, std::chrono::milliseconds(wait), [this] { return stopping_; });
  }
}

HttpResponse Puller::call(const std::string& path, Status* err) {
  return send_with_token(*http_, tokens_.get(), "GET", path, {{"Accept", "application/fhir+json"}}, err, {},
                         size_t(cfg_.pull_max_page_bytes));
}

Result<bool> Puller::history_supported(const std::string& type) {
  if (!metadata_read_) {
    Status err;
    HttpResponse r = call("/metadata", &err);
    if (!err.ok()) return err;
    if (r.status == 0 || retryable(r.status) || r.status == 401 || r.status == 403)
      return Status(Err::unavailable, "upstream " + cfg_.upstream + "/metadata: " + problem(r));
    if (r.status == 200) {
      auto v = json::parse(r.body);
      if (v)
        if (const json::Array* rest = json::get_array(*v, "rest"))
          for (const json::Value& rs : *rest)
            if (const json::Array* res = json::get_array(rs, "resource"))
              for (const json::Value& rr : *res) {
                bool h = false;
                if (const json::Array* ints = json::get_array(rr, "interaction"))
                  for (const json::Value& i : *ints) h = h || json::string_or(i, "code") == "history-type";
                history_[json::string_or(rr, "type")] = h;
              }
    }
    metadata_read_ = true;
    log::info("sync.pull_capabilities", {{"upstream", cfg_.upstream}, {"types_with_history", int64_t(std::count_if(
        history_.begin(), history_.end(), [](const auto& kv) { return kv.second; }))}});
  }
  auto it = history_.find(type);
  return it != history_.end() && it->second;
}

// Pulled CodeSystems, ValueSets and ConceptMaps invalidate cached expansions once their
// page has committed, as a write through the Service does (service/terminology.h).
static void after_commit(const PulledPage& page) {
  for (const Pulled& e : page.entries)
    if (service::Terminology::is_terminology_type(e.type)) {
      service::Terminology::bump_generation();
      return;
    }
}

// A pulled change to `e` met a local change: the local version (and its change seq) against the
// upstream's `upstream_version`, where `expected` is the upstream version the edge last held.
// The caller sets resolution and detail.
static store::SyncConflictRow pull_conflict(const Pulled& e, int64_t local_version, int64_t change_seq,
                                            const std::string& expected, const std::string& upstream_version) {
  store::SyncConflictRow k;
  k.type = e.type;
  k.id = e.id;
  k.local_version = local_version;
  k.change_seq = change_seq;
  k.kind = "conflict";
  k.direction = "pull";
  k.expected_version = expected;
  k.upstream_version = upstream_version;
  return k;
}

Status Puller::apply_search_page(Run& r, const PulledPage& page) {
  const std::string& up = cfg_.upstream;
  PullReport rep;
  int64_t cursor = r.cursor_ms;
  std::vector<std::string> warnings;
  Status st = db_.write([&](store::Conn& c) -> Status {
    rep = PullReport();
    cursor = r.cursor_ms;
    warnings.clear();
    int64_t now = clock_.now_ms();
    for (const Pulled& e : page.entries) {
      cursor = std::max(cursor, e.last_updated);
      auto row = store::SyncState::resource(c, up, e.type, e.id);
      if (!row) return row.status();
      if (*row && (*row)->upstream_version && already_have((*row)->upstream_version, e.version)) {
        rep.unchanged++;
        continue;
      }
      auto cur = repo_.resources().current(c, e.type, e.id);
      if (!cur) return cur.status();
      auto pending = store::SyncState::pending_conflict(c, up, e.type, e.id);
      if (!pending) return pending.status();
      bool local_changed = pending->has_value() || (*cur && (!*row || (*cur)->version > (*row)->local_version));
      std::string body = json::write(e.resource);
      auto conflict = [&] {
        return pull_conflict(e, *cur ? (*cur)->version : 0, *cur ? (*cur)->seq : 0,
                             *row && (*row)->upstream_version ? *(*row)->upstream_version : std::string(), e.version);
      };
      if (local_changed && *cur && !(*cur)->deleted && !pending->has_value()) {
        // Our own change coming back (its acknowledgement was lost or not yet written)?
        auto mine = repo_.resources().by_seq(c, (*cur)->seq);
        if (!mine) return mine.status();
        if (same_content(mine->body, body)) {
          Status s = store::SyncState::put_resource(c, up, e.type, e.id, e.version, (*cur)->version, "pull", now);
          if (!s) return s;
          rep.unchanged++;
          continue;
        }
      }
      if (!local_changed || cfg_.conflict_policy == ConflictPolicy::upstream_wins) {
        auto w = repo_.update(c, e.type, e.id, e.resource);
        if (!w) {
          if (!refused_by_check(w.status())) return w.status();
          store::SyncConflictRow k;
          k.type = e.type;
          k.id = e.id;
          k.local_version = *cur ? (*cur)->version : 0;
          k.kind = "rejected";
          k.direction = "pull";
          k.upstream_version = e.version;
          k.resolution = "rejected";
          k.detail = "the upstream version " + e.version + " was refused by the local write check: " + w.status().message;
          auto seen = store::SyncState::conflict_recorded(c, up, e.type, e.id, e.version, "rejected");
          if (!seen) return seen.status();
          if (*seen) continue;  // reported when first met (the overlap re-reads it)
          Status s = store::SyncState::add_conflict(c, up, k, now);
          if (!s) return s;
          rep.rejected++;
          warnings.push_back(e.type + "/" + e.id + ": " + w.status().message);
          continue;
        }
        Status s = store::SyncState::put_resource(c, up, e.type, e.id, e.version, w->version, "pull", now);
        if (!s) return s;
        if (!w->unchanged) rep.received++;
        else rep.unchanged++;
        if (local_changed) {
          store::SyncConflictRow k = conflict();
          k.resolution = "kept-upstream";
          k.detail = "changed on both sides: upstream version " + e.version + " written as local version " +
                     std::to_string(w->version) + "; the local version " + std::to_string(k.local_version) +
                     " stays in the history (upstream-wins)";
          s = store::SyncState::add_conflict(c, up, k, now);
          if (!s) return s;
          if (pending->has_value()) s = store::SyncState::resolve(c, (*pending)->seq, "kept-upstream", now);
          if (!s) return s;
          rep.conflicts++;
        }
        continue;
      }
      // Changed on both sides, the local version is kept (for now).
      auto seen = store::SyncState::conflict_recorded(c, up, e.type, e.id, e.version);
      if (!seen) return seen.status();
      store::SyncConflictRow k = conflict();
      std::string both = "changed on both sides: upstream version " + e.version + ", local version " +
                         std::to_string(k.local_version) + " not yet pushed";
      Status s;
      if (cfg_.conflict_policy == ConflictPolicy::edge_wins) {
        // The push overwrites the upstream's version with If-Match of the version just seen.
        s = store::SyncState::put_resource(c, up, e.type, e.id, e.version, *row ? (*row)->local_version : 0, "pull", now);
        if (!s) return s;
        k.resolution = "kept-local";
        k.detail = both + "; the local version is pushed over it (edge-wins)";
      } else if (cfg_.conflict_policy == ConflictPolicy::manual) {
        if (pending->has_value()) {
          s = store::SyncState::update_pending(c, (*pending)->seq, e.version, body,
                                               both + "; waiting for `edgefhir sync resolve " +
                                                   std::to_string((*pending)->seq) + "` (manual)");
          if (!s) return s;
          rep.conflicts++;
          continue;
        }
        k.resolution = "pending";
        k.upstream_body = body;
        k.detail = both + "; both kept, waiting for `edgefhir sync resolve` (manual)";
      } else {
        k.resolution = "skipped";
        k.detail = both + "; neither side changed (skip-and-report)";
      }
      if (!*seen || k.resolution == "pending") {
        s = store::SyncState::add_conflict(c, up, k, now);
        if (!s) return s;
        rep.conflicts++;
      }
    }
    return store::SyncState::pull_progress(c, up, r.q.search, cursor, rep.received, 0);
  });
  after_commit(page);
  if (!st) return st;
  for (const std::string& w : warnings) log::warn("sync.pull_rejected", {{"search", r.q.search}, {"detail", w}});
  r.cursor_ms = cursor;
  r.report.received += rep.received;
  r.report.unchanged += rep.unchanged;
  r.report.conflicts += rep.conflicts;
  r.report.rejected += rep.rejected;
  return Status();
}

Status Puller::apply_search_page_split(Run& r, const PulledPage& page) {
  Status st = apply_search_page(r, page);
  if (st || st.code != Err::too_large || page.entries.size() < 2) return st;
  // The page held the writer longer than limits.max_write_ms (a slow disk, a busy machine):
  // nothing of it was written; its halves are applied one after the other, in order.
  log::warn("sync.pull_page_split", {{"search", r.q.search}, {"entries", int64_t(page.entries.size())}});
  size_t mid = page.entries.size() / 2;
  PulledPage a, b;
  a.entries.assign(page.entries.begin(), page.entries.begin() + long(mid));
  b.entries.assign(page.entries.begin() + long(mid), page.entries.end());
  st = apply_search_page_split(r, a);
  if (!st) return st;
  return apply_search_page_split(r, b);
}

Status Puller::apply_history_page(Run& r, const PulledPage& page) {
  const std::string& up = cfg_.upstream;
  PullReport rep;
  Status st = db_.write([&](store::Conn& c) -> Status {
    rep = PullReport();
    int64_t now = clock_.now_ms();
    for (const Pulled& e : page.entries) {
      if (!e.deleted) continue;
      auto row = store::SyncState::resource(c, up, e.type, e.id);
      if (!row) return row.status();
      if (!*row) continue;  // never held from this upstream
      const store::SyncResourceRow& sr = **row;
      if (!sr.upstream_version) continue;  // already deleted here (or unknown)
      if (already_have(sr.upstream_version, e.version) && *sr.upstream_version != e.version) continue;  // recreated later
      auto cur = repo_.resources().current(c, e.type, e.id);
      if (!cur) return cur.status();
      if (!*cur || (*cur)->deleted) {
        Status s = store::SyncState::put_resource(c, up, e.type, e.id, std::nullopt, *cur ? (*cur)->version : 0, "pull", now);
        if (!s) return s;
        continue;
      }
      auto pending = store::SyncState::pending_conflict(c, up, e.type, e.id);
      if (!pending) return pending.status();
      bool local_changed = pending->has_value() || (*cur)->version > sr.local_version;
      if (!local_changed || cfg_.conflict_policy == ConflictPolicy::upstream_wins) {
        auto w = repo_.remove(c, e.type, e.id);
        if (!w) return w.status();
        Status s = store::SyncState::put_resource(c, up, e.type, e.id, std::nullopt, w->version, "pull", now);
        if (!s) return s;
        rep.deleted++;
        if (!local_changed) continue;
      }
      store::SyncConflictRow k = pull_conflict(e, (*cur)->version, (*cur)->seq, *sr.upstream_version, "deleted");
      std::string both = "deleted upstream (version " + e.version + ") while local version " +
                         std::to_string(k.local_version) + " was not yet pushed";
      Status s;
      if (cfg_.conflict_policy == ConflictPolicy::upstream_wins) {
        k.resolution = "kept-upstream";
        k.detail = both + "; deleted here too, the local version stays in the history (upstream-wins)";
      } else if (cfg_.conflict_policy == ConflictPolicy::edge_wins) {
        s = store::SyncState::put_resource(c, up, e.type, e.id, std::nullopt, sr.local_version, "pull", now);
        if (!s) return s;
        k.resolution = "kept-local";
        k.detail = both + "; the local version is pushed again (edge-wins)";
      } else if (cfg_.conflict_policy == ConflictPolicy::manual) {
        if (pending->has_value()) {
          s = store::SyncState::update_pending(c, (*pending)->seq, "deleted", "", both + " (manual)");
          if (!s) return s;
          continue;
        }
        k.resolution = "pending";
        k.upstream_body = std::string();
        k.detail = both + "; waiting for `edgefhir sync resolve` (manual)";
      } else {
        k.resolution = "skipped";
        k.detail = both + " (skip-and-report)";
      }
      auto seen = store::SyncState::conflict_recorded(c, up, e.type, e.id, "deleted");
      if (!seen) return seen.status();
      if (!*seen || k.resolution == "pending" || k.resolution == "kept-upstream") {
        s = store::SyncState::add_conflict(c, up, k, now);
        if (!s) return s;
        rep.conflicts++;
      }
    }
    return store::SyncState::pull_progress(c, up, r.q.search, 0, 0, rep.deleted);
  });
  after_commit(page);
  if (!st) return st;
  r.report.deleted += rep.deleted;
  r.report.conflicts += rep.conflicts;
  return Status();
}

Result<PullReport> Puller::pull_once(size_t qi) {
  std::lock_guard<std::mutex> lk(pull_mu_);
  struct Invalidate {
    Puller* p;
    ~Invalidate() {
      std::lock_guard<std::mutex> l(p->status_mu_);
      p->status_at_ms_ = -1;
    }
  } invalidate{this};
  if (qi >= cfg_.pull.size()) return Status(Err::invalid, "no such pull search");
  if (!http_) return Status(Err::invalid, "sync.upstream is not a usable URL");
  const PullQuery& q = cfg_.pull[qi];
  auto row = state_.pull_ensure(cfg_.upstream, q.search, clock_.now_ms());
  if (!row) return row.status();
  Run r{q, {}, row->cursor_ms, 0};
  auto fail = [&](const Status& s) -> Result<PullReport> {
    if (!shutting_down_) {
      Status w = state_.pull_finish(cfg_.upstream, q.search, false, s.message, 0, false, clock_.now_ms());
      if (!w) log::error("sync.state_write_failed", {{"error", w.message}});
    }
    return s;
  };
  auto hist = history_supported(q.type);
  if (!hist) return fail(hist.status());
  r.report.history = *hist;
  Status err;
  // First run with history: where the upstream's history stands before the full download.
  int64_t history_since = row->history_since_ms;
  if (*hist && history_since == 0) {
    HttpResponse h = call("/" + q.type + "/_history?_count=1", &err);
    if (!err.ok()) return fail(err);
    if (h.status != 200) return fail(Status(Err::unavailable, q.type + "/_history: " + problem(h)));
    auto hp = parse_history_page(h.body, q.type);
    if (!hp) return fail(hp.status());
    history_since = hp->entries.empty() ? 1 : std::max<int64_t>(1, hp->entries[0].last_updated);
    Status hs = state_.pull_history_start(cfg_.upstream, q.search, history_since);
    if (!hs) return fail(hs);
  }
  std::string path = search_path(q, r.cursor_ms, cfg_.pull_overlap_seconds, cfg_.pull_page_size);
  for (;;) {
    if (r.report.pages >= cfg_.pull_max_pages_per_run) {
      r.report.more = true;
      break;
    }
    HttpResponse resp = call(path, &err);
    if (!err.ok()) return fail(err);
    if (resp.status != 200) return fail(Status(Err::unavailable, "GET " + q.search + ": " + problem(resp)));
    auto page = parse_search_page(resp.body, q.type);
    if (!page) return fail(page.status());
    r.report.pages++;
    Status st = apply_search_page_split(r, *page);
    if (!st) return fail(st);
    if (page->next.empty()) break;
    auto next = next_link_path(page->next, http_->endpoint());
    if (!next) return fail(next.status());
    path = *next;
  }
  if (r.report.more) {
    // Resumes from the cursor; the run is a success so far.
    Status w = state_.pull_finish(cfg_.upstream, q.search, true, "", 0, false, clock_.now_ms());
    if (!w) return w;
    return r.report;
  }
  if (*hist && row->history_since_ms > 0) {
    path = history_path(q.type, row->history_since_ms, cfg_.pull_overlap_seconds, cfg_.pull_page_size);
    int pages = 0;
    for (;;) {
      if (pages >= cfg_.pull_max_pages_per_run)
        return fail(Status(Err::too_large, q.type + "/_history since the last scan has more than "
                                               "sync.pull_max_pages_per_run pages; deletions are not complete"));
      HttpResponse resp = call(path, &err);
      if (!err.ok()) return fail(err);
      if (resp.status != 200) return fail(Status(Err::unavailable, q.type + "/_history: " + problem(resp)));
      auto page = parse_history_page(resp.body, q.type);
      if (!page) return fail(page.status());
      pages++;
      for (const Pulled& p : page->entries) history_since = std::max(history_since, p.last_updated);
      Status st = apply_history_page(r, *page);
      if (!st) return fail(st);
      if (page->next.empty()) break;
      auto next = next_link_path(page->next, http_->endpoint());
      if (!next) return fail(next.status());
      path = *next;
    }
  }
  Status w = state_.pull_finish(cfg_.upstream, q.search, true, "", history_since, true, clock_.now_ms());
  if (!w) return w;
  return r.report;
}

Result<PullReport> Puller::pull_all() {
  PullReport total;
  for (size_t i = 0; i < cfg_.pull.size(); ++i) {
    for (int n = 0; n < 1000000; ++n) {
      auto r = pull_once(i);
      if (!r) return r.status();
      total.pages += r->pages;
      total.received += r->received;
      total.unchanged += r->unchanged;
      total.deleted += r->deleted;
      total.conflicts += r->conflicts;
      total.rejected += r->rejected;
      if (!r->more) break;
    }
  }
  return total;
}

Result<std::vector<PullQueryStatus>> read_pull_status(store::Database& db, const SyncConfig& cfg, const Clock& clock) {
  std::vector<PullQueryStatus> out;
  store::SyncState state(db);
  int64_t now = clock.now_ms();
  for (const PullQuery& q : cfg.pull) {
    PullQueryStatus s;
    s.search = q.search;
    s.interval_seconds = q.interval_seconds;
    auto row = state.pull_get(cfg.upstream, q.search);
    if (!row) return row.status();
    if (*row) {
      const store::SyncPullRow& p = **row;
      s.cursor_ms = p.cursor_ms;
      s.full_done = p.full_done;
      s.last_attempt_ms = p.last_attempt_at;
      s.last_success_ms = p.last_success_at;
      s.last_error_ms = p.last_error_at;
      s.last_error = p.last_error;
      s.consecutive_failures = p.consecutive_failures;
      s.received_total = p.received_total;
      s.deleted_total = p.deleted_total;
      s.created_ms = p.created_at;
      int64_t since = p.last_success_at ? p.last_success_at : p.created_at;
      if (now - since > cfg.pull_max_age_seconds * 1000) {
        s.health = "warn";
        s.health_reason = "pull '" + q.search + "' has not succeeded " +
                          (p.last_success_at ? "for " + timefmt::human_duration((now - since) / 1000)
                                             : "since it was configured " + timefmt::human_duration((now - since) / 1000) + " ago") +
                          " (sync.pull_max_age_seconds " + std::to_string(cfg.pull_max_age_seconds) + ")" +
                          (p.last_error.empty() ? std::string() : "; last error: " + p.last_error);
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<PullQueryStatus> Puller::status() {
  int64_t now = clock_.now_ms();
  std::lock_guard<std::mutex> lk(status_mu_);
  if (status_at_ms_ >= 0 && now - status_at_ms_ < 1000 && now >= status_at_ms_) return status_cache_;
  auto s = read_pull_status(db_, cfg_, clock_);
  if (s) status_cache_ = *s;
  else {
    status_cache_.clear();
    PullQueryStatus bad;
    bad.health = "warn";
    bad.health_reason = "pull status cannot be read: " + s.status().message;
    status_cache_.push_back(bad);
  }
  status_at_ms_ = now;
  return status_cache_;
}

json::Value PullQueryStatus::to_json() const {
  json::Object o;
  auto when = [&](const char* k, int64_t ms) {
    o[k] = ms > 0 ? json::Value(timefmt::format_instant(ms)) : json::Value();
  };
  o["search"] = json::Value(search);
  o["interval_seconds"] = json::make_number(int64_t(interval_seconds));
  when("cursor", cursor_ms);
  o["full_download_done"] = json::Value(full_done);
  when("last_attempt", last_attempt_ms);
  when("last_success", last_success_ms);
  when("last_error_at", last_error_ms);
  o["last_error"] = last_error.empty() ? json::Value() : json::Value(last_error);
  o["consecutive_failures"] = json::make_number(consecutive_failures);
  o["received_total"] = json::make_number(received_total);
  o["deleted_total"] = json::make_number(deleted_total);
  o["health"] = json::Value(health);
  if (!health_reason.empty()) o["health_reason"] = json::Value(health_reason);
  return json::Value(o);
}

Status resolve_conflict(store::Database& db, service::Repository& repo, Pusher& pusher, const SyncConfig& cfg,
                        int64_t conflict_id, bool keep_local, const Clock& clock) {
  store::SyncState state(db);
  auto k = state.conflict(cfg.upstream, conflict_id);
  if (!k) return k.status();
  if (!*k) return Status(Err::not_found, "no conflict " + std::to_string(conflict_id) + " for upstream " + cfg.upstream);
  const store::SyncConflictRow& row = **k;
  if (row.resolution != "pending")
    return Status(Err::conflict, "conflict " + std::to_string(conflict_id) + " is not waiting for a decision (resolution: " +
                                     row.resolution + ")");
  bool upstream_deleted = row.upstream_version == "deleted" || (row.upstream_body && row.upstream_body->empty());
  std::optional<std::string> upv;
  if (!upstream_deleted && !row.upstream_version.empty()) upv = row.upstream_version;
  if (keep_local) {
    // Push first; only an acknowledged push resolves the conflict.
    Status st = pusher.push_resource(row.type, row.id, upv ? *upv : std::string());
    if (!st) return st;
    return db.write([&](store::Conn& c) { return store::SyncState::resolve(c, conflict_id, "resolved-local", clock.now_ms()); });
  }
  if (!row.upstream_body) return Status(Err::invalid, "conflict " + std::to_string(conflict_id) + " kept no upstream version");
  json::Value doc;
  if (!upstream_deleted) {
    json::ParseOptions o;
    o.preserve_numbers = true;
    auto v = json::parse(*row.upstream_body, o);
    if (!v) return Status(Err::internal, "the kept upstream version cannot be parsed: " + v.status().message);
    doc = *v;
  }
  Status done = db.write([&](store::Conn& c) -> Status {
    int64_t now = clock.now_ms();
    int64_t version = 0;
    if (upstream_deleted) {
      auto cur = repo.resources().current(c, row.type, row.id);
      if (!cur) return cur.status();
      if (*cur && !(*cur)->deleted) {
        auto w = repo.remove(c, row.type, row.id);
        if (!w) return w.status();
        version = w->version;
      } else if (*cur) {
        version = (*cur)->version;
      }
    } else {
      auto w = repo.update(c, row.type, row.id, doc);
      if (!w) return w.status();
      version = w->version;
    }
    Status s = store::SyncState::put_resource(c, cfg.upstream, row.type, row.id, upv, version, "pull", now);
    if (!s) return s;
    return store::SyncState::resolve(c, conflict_id, "resolved-upstream", now);
  });
  if (service::Terminology::is_terminology_type(row.type)) service::Terminology::bump_generation();
  return done;
}

}  // namespace ef::sync
