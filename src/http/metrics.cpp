// http/metrics.cpp — see metrics.h.  Per-thread shards for the hot counters, merged at
// render time; callback metrics evaluated at render time without holding the registry lock.
#include "http/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "auth/key_store.h"

namespace ef::http {

namespace {

const char* const kRequests = "edgefhir_http_requests_total";
const char* const kDuration = "edgefhir_http_request_duration_seconds";
const char* const kInFlight = "edgefhir_http_requests_in_flight";
const char* const kAuth = "edgefhir_auth_failures_total";
const char* const kBuild = "edgefhir_build_info";
const char* const kStart = "edgefhir_start_time_seconds";

bool reserved(const std::string& name) {
  static const char* const names[] = {kRequests, kDuration, kInFlight, kAuth, kBuild, kStart,
                                      "process_resident_memory_bytes", "process_virtual_memory_bytes",
                                      "process_cpu_seconds_total", "process_open_fds", "process_threads"};
  for (const char* n : names)
    if (name == n) return true;
  // histogram series names derived from the duration family
  return name.rfind(kDuration, 0) == 0;
}

std::atomic<uint64_t> next_id{1};

}  // namespace

// ---- per-thread shards ----

struct Metrics::Shard {
  struct Interaction {
    std::vector<std::pair<int, uint64_t>> by_status;  // few distinct codes per interaction
    uint64_t buckets[kNumLatencyBuckets + 1] = {};    // non-cumulative; last = +Inf
    uint64_t count = 0;
    uint64_t sum_us = 0;
  };
  std::mutex mu;
  std::atomic<bool> in_use{true};
  std::unordered_map<std::string, Interaction> inter;
  std::unordered_map<std::string, uint64_t> auth;
};

namespace {

struct TlsEntry {
  uint64_t owner;
  std::shared_ptr<Metrics::Shard> shard;
};
struct TlsCache {
  std::vector<TlsEntry> v;
  ~TlsCache() {
    for (auto& e : v) e.shard->in_use.store(false, std::memory_order_release);
  }
};
thread_local TlsCache tls;

}  // namespace

Metrics::Metrics() : id_(next_id.fetch_add(1)) {}
Metrics::~Metrics() = default;

Metrics::Shard& Metrics::shard() const {
  for (auto& e : tls.v)
    if (e.owner == id_) return *e.shard;
  // First use on this thread: forget shards of destroyed registries, then adopt a shard
  // whose thread has exited, or make a new one.
  tls.v.erase(std::remove_if(tls.v.begin(), tls.v.end(), [](const TlsEntry& e) { return e.shard.use_count() == 1; }),
              tls.v.end());
  std::shared_ptr<Shard> s;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& c : shards_) {
      bool expected = false;
      if (c->in_use.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
        s = c;
        break;
      }
    }
    if (!s) {
      s = std::make_shared<Shard>();
      shards_.push_back(s);
    }
  }
  tls.v.push_back({id_, s});
  return *s;
}

static size_t bucket_for(int64_t micros) {
  double secs = double(micros) / 1e6;
  for (size_t i = 0; i < kNumLatencyBuckets; ++i)
    if (secs <= kLatencyBuckets[i]) return i;
  return kNumLatencyBuckets;
}

void Metrics::observe_request(std::string_view interaction, int status, int64_t micros) {
  if (micros < 0) micros = 0;
  Shard& s = shard();
  std::lock_guard<std::mutex> g(s.mu);
  auto it = s.inter.find(std::string(interaction));
  if (it == s.inter.end()) {
    if (s.inter.size() >= kMaxLabelValues) it = s.inter.try_emplace("other").first;
    else it = s.inter.try_emplace(std::string(interaction)).first;
  }
  auto& in = it->second;
  bool found = false;
  for (auto& p : in.by_status)
    if (p.first == status) {
      ++p.second;
      found = true;
      break;
    }
  if (!found) in.by_status.emplace_back(status, 1);
  ++in.buckets[bucket_for(micros)];
  ++in.count;
  in.sum_us += uint64_t(micros);
}

void Metrics::auth_failure(std::string_view reason) {
  Shard& s = shard();
  std::lock_guard<std::mutex> g(s.mu);
  auto it = s.auth.find(std::string(reason));
  if (it == s.auth.end()) {
    if (s.auth.size() >= kMaxLabelValues) it = s.auth.try_emplace("other").first;
    else it = s.auth.try_emplace(std::string(reason)).first;
  }
  ++it->second;
}

// ---- merged view ----

struct Metrics::Totals {
  struct Interaction {
    std::map<int, uint64_t> by_status;
    uint64_t buckets[kNumLatencyBuckets + 1] = {};
    uint64_t count = 0;
    uint64_t sum_us = 0;
  };
  std::map<std::string, Interaction> inter;
  std::map<std::string, uint64_t> auth;
};

Metrics::Totals Metrics::merged() const {
  std::vector<std::shared_ptr<Shard>> copy;
  {
    std::lock_guard<std::mutex> g(mu_);
    copy = shards_;
  }
  Totals t;
  for (auto& s : copy) {
    std::lock_guard<std::mutex> g(s->mu);
    for (auto& [name, in] : s->inter) {
      auto& o = t.inter[name];
      for (auto& p : in.by_status) o.by_status[p.first] += p.second;
      for (size_t i = 0; i <= kNumLatencyBuckets; ++i) o.buckets[i] += in.buckets[i];
      o.count += in.count;
      o.sum_us += in.sum_us;
    }
    for (auto& [reason, n] : s->auth) t.auth[reason] += n;
  }
  return t;
}

uint64_t Metrics::requests(std::string_view interaction, int status) const {
  Totals t = merged();
  auto it = t.inter.find(std::string(interaction));
  if (it == t.inter.end()) return 0;
  auto jt = it->second.by_status.find(status);
  return jt == it->second.by_status.end() ? 0 : jt->second;
}

uint64_t Metrics::auth_failures(std::string_view reason) const {
  Totals t = merged();
  auto it = t.auth.find(std::string(reason));
  return it == t.auth.end() ? 0 : it->second;
}

// ---- registration ----

bool valid_metric_name(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}

bool valid_label_name(std::string_view n) {
  if (n.empty() || n.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}

Status Metrics::add(const std::string& name, const std::string& help, const char* type, SampleFn fn) {
  if (!valid_metric_name(name)) return Status(Err::invalid, "metric name '" + name + "' is not a valid Prometheus name");
  if (!fn) return Status(Err::invalid, "metric '" + name + "' has no callback");
  std::lock_guard<std::mutex> g(mu_);
  if (reserved(name)) return Status(Err::invalid, "metric name '" + name + "' is built in");
  for (auto& c : callbacks_)
    if (c.name == name) return Status(Err::invalid, "metric '" + name + "' is already registered");
  callbacks_.push_back({name, help, type, std::move(fn), nullptr});
  return Status();
}

Status Metrics::add_histogram(const std::string& name, const std::string& help, HistogramFn fn) {
  if (!fn) return Status(Err::invalid, "metric '" + name + "' has no callback");
  HistogramFn keep = fn;
  // Registered like the others (name checks, duplicates); the SampleFn is never called.
  Status st = add(name, help, "histogram", [] { return std::vector<Sample>(); });
  if (!st) return st;
  std::lock_guard<std::mutex> g(mu_);
  callbacks_.back().hist = std::move(keep);
  return Status();
}

Status Metrics::add_gauge(const std::string& name, const std::string& help, SampleFn fn) {
  return add(name, help, "gauge", std::move(fn));
}
Status Metrics::add_counter(const std::string& name, const std::string& help, SampleFn fn) {
  return add(name, help, "counter", std::move(fn));
}
static SampleFn single(std::function<double()> fn) {
  if (!fn) return nullptr;
  return [fn = std::move(fn)] { return std::vector<Sample>{Sample{{}, fn()}}; };
}
Status Metrics::add_gauge(const std::string& name, const std::string& help, std::function<double()> fn) {
  return add(name, help, "gauge", single(std::move(fn)));
}
Status Metrics::add_counter(const std::string& name, const std::string& help, std::function<double()> fn) {
  return add(name, help, "counter", single(std::move(fn)));
}

void Metrics::set_build_info(Labels labels) {
  std::lock_guard<std::mutex> g(mu_);
  build_info_ = std::move(labels);
}
void Metrics::set_start_time(double unix_seconds) {
  std::lock_guard<std::mutex> g(mu_);
  start_time_ = unix_seconds;
}
void Metrics::set_process_metrics(bool on) {
  std::lock_guard<std::mutex> g(mu_);
  process_metrics_ = on;
}

// ---- text format ----

std::string escape_label_value(std::string_view v) {
  std::string o;
  o.reserve(v.size());
  for (char c : v) {
    if (c == '\\') o += "\\\\";
    else if (c == '"') o += "\\\"";
    else if (c == '\n') o += "\\n";
    else o += c;
  }
  return o;
}

std::string escape_help(std::string_view v) {
  std::string o;
  o.reserve(v.size());
  for (char c : v) {
    if (c == '\\') o += "\\\\";
    else if (c == '\n') o += "\\n";
    else o += c;
  }
  return o;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
    snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  // shortest text that reads back as the same double
  for (int p = 1; p <= 17; ++p) {
    snprintf(buf, sizeof buf, "%.*g", p, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

namespace {

std::string label_text(const Labels& labels) {
  if (labels.empty()) return {};
  std::string o = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) o += ',';
    o += labels[i].first;
    o += "=\"";
    o += escape_label_value(labels[i].second);
    o += '"';
  }
  o += '}';
  return o;
}

void header(std::string& o, const std::string& name, const std::string& help, const char* type) {
  o += "# HELP " + name + " " + escape_help(help) + "\n";
  o += "# TYPE " + name + " " + type + "\n";
}

void line(std::string& o, const std::string& name, const Labels& labels, double v) {
  o += name;
  o += label_text(labels);
  o += ' ';
  o += format_value(v);
  o += '\n';
}

// /proc/self readings; false when unavailable (not Linux).
struct ProcStats {
  double rss = 0, vsize = 0, cpu = 0, fds = 0, threads = 0;
};
bool read_proc(ProcStats* p) {
  std::ifstream stat("/proc/self/stat");
  std::string s((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t close = s.rfind(')');  // the command name may contain spaces and parentheses
  if (close == std::string::npos) return false;
  std::istringstream in(s.substr(close + 2));
  std::vector<std::string> f;
  std::string w;
  while (in >> w) f.push_back(w);
  // fields after "(comm)": index 0 = state (field 3); utime=14, stime=15, num_threads=20, vsize=23, rss=24
  if (f.size() < 22) return false;
  double tick = double(sysconf(_SC_CLK_TCK));
  double page = double(sysconf(_SC_PAGESIZE));
  p->cpu = (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) / (tick > 0 ? tick : 100);
  p->threads = std::strtod(f[17].c_str(), nullptr);
  p->vsize = std::strtod(f[20].c_str(), nullptr);
  p->rss = std::strtod(f[21].c_str(), nullptr) * page;
  if (DIR* d = opendir("/proc/self/fd")) {
    int n = 0;
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    p->fds = n - 1;  // the directory handle itself
  }
  return true;
}

}  // namespace

std::string Metrics::render_prometheus() const {
  std::vector<Callback> cbs;
  Labels build;
  double start = 0;
  bool proc = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    cbs = callbacks_;
    build = build_info_;
    start = start_time_;
    proc = process_metrics_;
  }
  Totals t = merged();
  std::map<std::string, std::string> fam;  // name -> text, rendered in name order

  {
    std::string& o = fam[kRequests];
    header(o, kRequests, "HTTP requests served, by FHIR interaction and HTTP status code.", "counter");
    for (auto& [name, in] : t.inter)
      for (auto& [code, n] : in.by_status)
        line(o, kRequests, {{"interaction", name}, {"code", std::to_string(code)}}, double(n));
  }
  {
    std::string& o = fam[kDuration];
    header(o, kDuration, "Time from routing a request to its response being ready, by FHIR interaction.", "histogram");
    for (auto& [name, in] : t.inter) {
      uint64_t cum = 0;
      for (size_t i = 0; i <= kNumLatencyBuckets; ++i) {
        cum += in.buckets[i];
        line(o, std::string(kDuration) + "_bucket",
             {{"interaction", name}, {"le", i < kNumLatencyBuckets ? format_value(kLatencyBuckets[i]) : "+Inf"}},
             double(cum));
      }
      line(o, std::string(kDuration) + "_sum", {{"interaction", name}}, double(in.sum_us) / 1e6);
      line(o, std::string(kDuration) + "_count", {{"interaction", name}}, double(in.count));
    }
  }
  {
    std::string& o = fam[kInFlight];
    header(o, kInFlight, "Requests being handled now.", "gauge");
    line(o, kInFlight, {}, double(in_flight()));
  }
  {
    std::string& o = fam[kAuth];
    header(o, kAuth, "Bearer tokens refused, by reason code.", "counter");
    for (auto& [reason, n] : t.auth) line(o, kAuth, {{"reason", reason}}, double(n));
  }
  {
    std::string& o = fam[kBuild];
    header(o, kBuild, "Build information; the value is always 1.", "gauge");
    line(o, kBuild, build, 1);
  }
  if (start > 0) {
    std::string& o = fam[kStart];
    header(o, kStart, "Start time of the server since the Unix epoch, in seconds.", "gauge");
    line(o, kStart, {}, start);
  }
  ProcStats ps;
  if (proc && read_proc(&ps)) {
    auto one = [&](const char* name, const char* help, const char* type, double v) {
      std::string& o = fam[name];
      header(o, name, help, type);
      line(o, name, {}, v);
    };
    one("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", ps.rss);
    one("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", ps.vsize);
    one("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", ps.cpu);
    one("process_open_fds", "Number of open file descriptors.", "gauge", ps.fds);
    one("process_threads", "Number of OS threads in the process.", "gauge", ps.threads);
  }
  for (auto& c : cbs) {
    if (c.hist) {
      HistogramSample h;
      try {
        h = c.hist();
      } catch (...) {
        continue;
      }
      if (h.counts.size() != h.bounds.size() + 1) continue;
      std::string& o = fam[c.name];
      header(o, c.name, c.help, "histogram");
      uint64_t cum = 0;
      for (size_t i = 0; i < h.counts.size(); ++i) {
        cum += h.counts[i];
        line(o, c.name + "_bucket", {{"le", i < h.bounds.size() ? format_value(h.bounds[i]) : "+Inf"}}, double(cum));
      }
      line(o, c.name + "_sum", {}, h.sum);
      line(o, c.name + "_count", {}, double(cum));
      continue;
    }
    std::vector<Sample> samples;
    try {
      samples = c.fn();
    } catch (...) {
      samples.clear();
    }
    std::vector<std::pair<std::string, double>> rows;
    for (auto& s : samples) {
      Labels ok;
      for (auto& l : s.labels)
        if (valid_label_name(l.first)) ok.push_back(l);
      rows.emplace_back(label_text(ok), s.value);
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string& o = fam[c.name];
    header(o, c.name, c.help, c.type.c_str());
    for (auto& r : rows) o += c.name + r.first + " " + format_value(r.second) + "\n";
  }
  std::string out;
  for (auto& [name, text] : fam) out += text;
  return out;
}

Status add_key_store_metrics(Metrics& m, std::function<std::vector<auth::IssuerKeyStatus>()> status,
                             const Clock& clock) {
  using St = auth::IssuerKeyStatus;
  auto per_issuer = [status](std::function<bool(const St&, double*)> value) {
    return SampleFn([status, value] {
      std::vector<Sample> out;
      for (const St& s : status()) {
        double v = 0;
        if (value(s, &v)) out.push_back(Sample{{{"issuer", s.issuer}}, v});
      }
      return out;
    });
  };
  const Clock* c = &clock;
  struct Def {
    const char* name;
    const char* help;
    bool counter;
    std::function<bool(const St&, double*)> value;
  };
  const Def defs[] = {
      {"edgefhir_jwks_age_seconds", "Seconds since the last successful JWKS fetch, per discovery issuer that fetched.", false,
       [c](const St& s, double* v) {
         if (!s.discovery || s.last_success_ms <= 0) return false;
         *v = double(c->now_ms() - s.last_success_ms) / 1000.0;
         return true;
       }},
      {"edgefhir_jwks_keys", "Verification keys trusted now, per issuer.", false,
       [](const St& s, double* v) { *v = double(s.key_count); return true; }},
      {"edgefhir_jwks_stale", "1 when the issuer is served from cached keys because its last JWKS fetch failed or none succeeded yet.",
       false, [](const St& s, double* v) { *v = s.stale ? 1 : 0; return true; }},
      {"edgefhir_jwks_fetches_total", "JWKS fetch attempts since start, per issuer.", true,
       [](const St& s, double* v) { *v = double(s.fetches); return true; }},
      {"edgefhir_jwks_refresh_errors_total", "Failed JWKS fetches since start, per issuer.", true,
       [](const St& s, double* v) { *v = double(s.fetch_errors); return true; }},
      {"edgefhir_jwks_unknown_kid_total", "Tokens naming a key id the issuer's cached keys did not have, since start.", true,
       [](const St& s, double* v) { *v = double(s.unknown_kid); return true; }},
  };
  for (const Def& d : defs) {
    Status st = d.counter ? m.add_counter(d.name, d.help, per_issuer(d.value)) : m.add_gauge(d.name, d.help, per_issuer(d.value));
    if (!st) return st;
  }
  return Status();
}

Metrics& metrics() {
  static Metrics* m = new Metrics();  // never destroyed: worker threads may record during exit
  return *m;
}

}  // namespace ef::http
