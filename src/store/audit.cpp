// store/audit.cpp — see audit.h.  Scrubbing happens in append() (before anything is
// buffered); the background thread only batches INSERTs and prunes.
#include "store/audit.h"

#include <algorithm>
#include <cctype>

#include "util/log.h"

namespace ef::store {

namespace {

constexpr size_t kMaxQuery = 2048;
constexpr size_t kMaxOutcome = 1024;
constexpr size_t kMaxField = 512;
constexpr int64_t kPruneChunk = 5000;

bool b64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// Replaces every JWT/JWS-looking run ("eyJ" base64url "." base64url "." ...) by "[redacted]".
std::string scrub_jwts(std::string s) {
  size_t pos = 0;
  while ((pos = s.find("eyJ", pos)) != std::string::npos) {
    size_t i = pos, dots = 0;
    while (i < s.size() && (b64url_char(s[i]) || s[i] == '.')) {
      if (s[i] == '.') ++dots;
      ++i;
    }
    if (dots >= 1 && i - pos >= 16) {
      s.replace(pos, i - pos, "[redacted]");
      pos += 10;
    } else {
      pos += 3;
    }
  }
  return s;
}

std::string cap(std::string s, size_t max) {
  if (s.size() > max) {
    s.resize(max);
    // Do not leave half a UTF-8 sequence behind.
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
    if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80)) s.pop_back();
    s += "...";
  }
  return s;
}

int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = char(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

std::string decode_lower(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size() && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
      c = char(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
      i += 2;
    } else if (c == '+') {
      c = ' ';
    }
    out += char(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool credential_name(std::string_view raw_name) {
  const std::string n = decode_lower(raw_name);
  for (const char* w : {"token", "secret", "password", "passwd", "assertion", "api_key", "apikey", "code_verifier",
                        "authorization", "bearer"})
    if (n.find(w) != std::string::npos) return true;
  return false;
}

void bind_text_or_null(Stmt& s, int i, const std::string& v) {
  if (v.empty()) s.bind_null(i);
  else s.bind(i, v);
}

Status config_int(const json::Value& sec, const char* key, int64_t def, int64_t lo, int64_t hi, int64_t* out) {
  *out = def;
  const json::Value* v = json::get(sec, key);
  if (!v) return Status();
  int64_t n = 0;
  if (!json::int_value(*v, &n) || n < lo || n > hi)
    return Status(Err::invalid, std::string("config: audit.") + key + " must be an integer from " + std::to_string(lo) +
                                    " to " + std::to_string(hi));
  *out = n;
  return Status();
}

}  // namespace

Result<AuditOptions> audit_options_from_config(const json::Value& sec) {
  AuditOptions o;
  if (sec.is<picojson::null>()) return o;
  if (!json::is_object(sec)) return Status(Err::invalid, "config: 'audit' must be an object");
  for (const auto& kv : *json::as_object(sec))
    if (kv.first != "retention_days" && kv.first != "flush_interval_ms" && kv.first != "batch_size" &&
        kv.first != "max_pending" && kv.first != "$comment" && kv.first != "comment")
      return Status(Err::invalid, "audit." + kv.first +
                                      ": unknown key (known: batch_size, flush_interval_ms, max_pending, retention_days)");
  int64_t days = 0, interval = 0, batch = 0, max_pending = 0;
  Status st = config_int(sec, "retention_days", o.retention_days, 0, 36500, &days);
  if (st) st = config_int(sec, "flush_interval_ms", o.flush_interval_ms, 10, 3600 * 1000, &interval);
  if (st) st = config_int(sec, "batch_size", int64_t(o.batch_size), 1, 100000, &batch);
  if (st) st = config_int(sec, "max_pending", int64_t(o.max_pending), 1, 10000000, &max_pending);
  if (!st) return st;
  o.retention_days = int(days);
  o.flush_interval_ms = interval;
  o.batch_size = size_t(batch);
  o.max_pending = size_t(max_pending);
  return o;
}

std::string redact_text(std::string_view text) {
  std::string plain = scrub_jwts(std::string(text));
  if (text.find('%') == std::string_view::npos) return plain;
  // percent-decoded (a token whose dots are %2E): when that hides a JWT, the decoded text
  // is kept with the token redacted
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hexv(text[i + 1]) >= 0 && hexv(text[i + 2]) >= 0) {
      decoded += char(hexv(text[i + 1]) * 16 + hexv(text[i + 2]));
      i += 2;
    } else {
      decoded += text[i];
    }
  }
  std::string scrubbed = scrub_jwts(decoded);
  return scrubbed == decoded ? plain : scrubbed;
}

std::string redact_query(std::string_view q) {
  if (!q.empty() && q[0] == '?') q.remove_prefix(1);
  std::string out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (credential_name(part.substr(0, eq))) continue;
    if (!out.empty()) out += '&';
    out += redact_text(part);
  }
  return out;
}

// ---- reading ----

Result<std::vector<AuditEvent>> audit_query(Database& db, const AuditQuery& q) {
  std::vector<AuditEvent> rows;
  Status st = db.read([&](Conn& c) {
    Stmt& s = c.prepare(
        "SELECT seq, ts, request_id, subject, client_id, tenant, issuer, interaction, type, id, query, status, outcome "
        "FROM audit_event WHERE ts >= ?1 AND (?2 = '' OR instr(lower(COALESCE(subject,'')), lower(?2)) > 0 "
        "OR instr(lower(COALESCE(client_id,'')), lower(?2)) > 0) ORDER BY ts DESC, seq DESC LIMIT ?3");
    s.bind(1, q.since_ms).bind(2, q.who).bind(3, int64_t(std::max(q.limit, 0)));
    while (s.step()) {
      AuditEvent e;
      e.seq = s.int64(0);
      e.ts_ms = s.int64(1);
      e.request_id = std::string(s.text(2));
      e.subject = std::string(s.text(3));
      e.client_id = std::string(s.text(4));
      e.tenant = std::string(s.text(5));
      e.issuer = std::string(s.text(6));
      e.interaction = std::string(s.text(7));
      e.type = std::string(s.text(8));
      e.id = std::string(s.text(9));
      e.query = std::string(s.text(10));
      e.status = int(s.int64(11));
      e.outcome = std::string(s.text(12));
      rows.push_back(std::move(e));
    }
    Status r = s.status();
    s.reset();
    return r;
  });
  if (!st) return st;
  return rows;
}

Result<int64_t> audit_prune(Database& db, int64_t before_ms) {
  int64_t total = 0;
  for (;;) {
    int n = 0;
    Status st = db.write([&](Conn& c) {
      Stmt& s = c.prepare(
          "DELETE FROM audit_event WHERE seq IN (SELECT seq FROM audit_event WHERE ts < ?1 ORDER BY ts LIMIT ?2)");
      s.bind(1, before_ms).bind(2, kPruneChunk);
      Status r = s.run();
      n = c.changes();
      return r;
    });
    if (!st) return st;
    total += n;
    if (n < kPruneChunk) return total;
  }
}

// ---- AuditLog ----

AuditLog::AuditLog(Database& db, const Clock& clock, AuditOptions opt) : db_(db), clock_(clock), opt_(opt) {}

AuditLog::~AuditLog() { stop(); }

void AuditLog::start() {
  std::lock_guard<std::mutex> lk(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void AuditLog::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  flush();
}

void AuditLog::append(AuditEvent ev) {
  if (ev.ts_ms == 0) ev.ts_ms = clock_.now_ms();
  ev.query = cap(redact_query(ev.query), kMaxQuery);
  ev.outcome = cap(scrub_jwts(std::move(ev.outcome)), kMaxOutcome);
  for (std::string* f : {&ev.request_id, &ev.subject, &ev.client_id, &ev.tenant, &ev.issuer, &ev.interaction, &ev.type, &ev.id})
    *f = cap(scrub_jwts(std::move(*f)), kMaxField);
  bool wake = false, first_drop = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (pending_.size() >= opt_.max_pending) {
      first_drop = stats_.dropped++ == 0;
    } else {
      pending_.push_back(std::move(ev));
      ++stats_.appended;
      wake = pending_.size() >= opt_.batch_size;
    }
  }
  if (first_drop) log::error("audit.dropping", {{"reason", "audit buffer full; the database is not keeping up"}});
  if (wake) cv_.notify_all();
}

Status AuditLog::write_batch(std::vector<AuditEvent>& batch) {
  return db_.write([&](Conn& c) {
    Stmt& s = c.prepare(
        "INSERT INTO audit_event(ts, request_id, subject, client_id, tenant, issuer, interaction, type, id, query, status, outcome) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    for (const AuditEvent& e : batch) {
      s.reset();
      s.bind(1, e.ts_ms);
      bind_text_or_null(s, 2, e.request_id);
      bind_text_or_null(s, 3, e.subject);
      bind_text_or_null(s, 4, e.client_id);
      bind_text_or_null(s, 5, e.tenant);
      bind_text_or_null(s, 6, e.issuer);
      bind_text_or_null(s, 7, e.interaction);
      bind_text_or_null(s, 8, e.type);
      bind_text_or_null(s, 9, e.id);
      bind_text_or_null(s, 10, e.query);
      s.bind(11, e.status);
      bind_text_or_null(s, 12, e.outcome);
      Status st = s.run();
      if (!st) return st;
    }
    return Status();
  });
}

Status AuditLog::flush() {
  std::lock_guard<std::mutex> order(flush_mu_);
  std::vector<AuditEvent> batch;
  {
    std::lock_guard<std::mutex> lk(mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return Status();
  Status st = write_batch(batch);
  std::lock_guard<std::mutex> lk(mu_);
  if (st) {
    stats_.written += batch.size();
    return st;
  }
  // Keep the events for the next attempt, ahead of newer ones, within the buffer bound.
  ++stats_.failed_flushes;
  size_t room = opt_.max_pending > pending_.size() ? opt_.max_pending - pending_.size() : 0;
  if (batch.size() > room) {
    stats_.dropped += batch.size() - room;
    batch.resize(room);
  }
  pending_.insert(pending_.begin(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
  log::error("audit.flush_failed", {{"error", st.message}, {"pending", pending_.size()}});
  return st;
}

Result<int64_t> AuditLog::prune() {
  if (opt_.retention_days <= 0) return int64_t(0);
  int64_t now = clock_.now_ms();
  auto r = audit_prune(db_, now - int64_t(opt_.retention_days) * 24 * 3600 * 1000);
  if (!r) log::error("audit.prune_failed", {{"error", r.status().message}});
  else if (*r > 0) log::info("audit.pruned", {{"deleted", *r}, {"retention_days", opt_.retention_days}});
  return r;
}

Result<std::vector<AuditEvent>> AuditLog::query(const AuditQuery& q) {
  Status st = flush();
  if (!st) return st;
  return audit_query(db_, q);
}

AuditLog::Stats AuditLog::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  Stats s = stats_;
  s.pending = pending_.size();
  return s;
}

void AuditLog::run() {
  prune();
  last_prune_ms_ = clock_.now_ms();
  std::unique_lock<std::mutex> lk(mu_);
  bool backoff = false;
  while (!stopping_) {
    auto interval = std::chrono::milliseconds(opt_.flush_interval_ms);
    if (backoff) cv_.wait_for(lk, interval, [&] { return stopping_; });
    else cv_.wait_for(lk, interval, [&] { return stopping_ || pending_.size() >= opt_.batch_size; });
    if (stopping_) break;
    lk.unlock();
    backoff = !flush().ok();
    if (clock_.now_ms() - last_prune_ms_ >= opt_.prune_interval_ms) {
      prune();
      last_prune_ms_ = clock_.now_ms();
    }
    lk.lock();
  }
}

}  // namespace ef::store
