#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <set>
#include <thread>

#include "auth/key_store.h"
#include "http/metrics.h"

using namespace ef;
using namespace ef::http;

namespace {

// A small parser of the Prometheus text format 0.0.4, strict enough to catch format bugs:
// every sample's family must have had exactly one HELP and one TYPE line before it.
struct Parsed {
  std::map<std::string, std::string> type, help;
  // "name{a=\"x\",b=\"y\"}" with labels in given order, unescaped -> value
  std::map<std::string, double> samples;
  std::vector<std::string> order;  // family names in order of TYPE lines
  std::string error;
};

std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
  if (types.count(name)) return name;
  for (const char* suf : {"_bucket", "_sum", "_count"}) {
    std::string s(suf);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      std::string base = name.substr(0, name.size() - s.size());
      if (types.count(base)) return base;
    }
  }
  return {};
}

Parsed parse(const std::string& text) {
  Parsed p;
  size_t pos = 0;
  int ln = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      p.error = "last line not terminated";
      return p;
    }
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++ln;
    auto fail = [&](const std::string& why) { p.error = "line " + std::to_string(ln) + ": " + why + ": " + line; };
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      size_t sp = rest.find(' ');
      if (sp == std::string::npos) return fail("no text"), p;
      std::string name = rest.substr(0, sp);
      auto& m = line[2] == 'H' ? p.help : p.type;
      if (m.count(name)) return fail("duplicate HELP/TYPE"), p;
      m[name] = rest.substr(sp + 1);
      if (line[2] == 'T') {
        if (!p.help.count(name)) return fail("TYPE before HELP"), p;
        p.order.push_back(name);
      }
      continue;
    }
    if (line.empty() || line[0] == '#') return fail("unexpected line"), p;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    std::string name = line.substr(0, i);
    if (!valid_metric_name(name)) return fail("bad metric name"), p;
    std::string key = name;
    if (i < line.size() && line[i] == '{') {
      ++i;
      key += '{';
      bool first = true;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') return fail("bad label"), p;
        std::string lname = line.substr(i, eq - i);
        if (!valid_label_name(lname)) return fail("bad label name"), p;
        std::string val;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            ++j;
            if (j >= line.size()) return fail("dangling escape"), p;
            if (line[j] == 'n') val += '\n';
            else if (line[j] == '\\' || line[j] == '"') val += line[j];
            else return fail("bad escape"), p;
          } else {
            val += line[j];
          }
        }
        if (j >= line.size()) return fail("unterminated label value"), p;
        i = j + 1;
        if (!first) key += ',';
        first = false;
        key += lname + "=\"" + val + "\"";
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return fail("unterminated labels"), p;
      ++i;
      key += '}';
    }
    if (i >= line.size() || line[i] != ' ') return fail("no value"), p;
    std::string v = line.substr(i + 1);
    double d;
    if (v == "+Inf") d = INFINITY;
    else if (v == "-Inf") d = -INFINITY;
    else if (v == "NaN") d = NAN;
    else {
      char* end = nullptr;
      d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end) return fail("bad value"), p;
    }
    std::string fam = family_of(name, p.type);
    if (fam.empty()) return fail("sample before its TYPE"), p;
    if (p.order.back() != fam) return fail("sample not grouped under its family"), p;
    if (p.samples.count(key)) return fail("duplicate sample"), p;
    p.samples[key] = d;
  }
  return p;
}

double get(const Parsed& p, const std::string& key) {
  auto it = p.samples.find(key);
  if (it == p.samples.end()) {
    FAIL_CHECK("missing sample " << key);
    return NAN;
  }
  return it->second;
}

}  // namespace

TEST_CASE("metrics: request counters and latency histogram render as valid exposition text", "[metrics]") {
  Metrics m;
  m.set_process_metrics(false);
  m.observe_request("read", 200, 400);      // <= 0.0005
  m.observe_request("read", 200, 500);      // exactly on the 0.0005 bound
  m.observe_request("read", 404, 501);      // just above -> 0.001
  m.observe_request("read", 200, 3000000);  // 3 s -> 5
  m.observe_request("read", 200, 20000000); // 20 s -> +Inf only
  m.observe_request("create", 201, 7000);
  Parsed p = parse(m.render_prometheus());
  REQUIRE(p.error == "");
  CHECK(p.type["edgefhir_http_requests_total"] == "counter");
  CHECK(p.type["edgefhir_http_request_duration_seconds"] == "histogram");
  CHECK(get(p, "edgefhir_http_requests_total{interaction=\"read\",code=\"200\"}") == 4);
  CHECK(get(p, "edgefhir_http_requests_total{interaction=\"read\",code=\"404\"}") == 1);
  CHECK(get(p, "edgefhir_http_requests_total{interaction=\"create\",code=\"201\"}") == 1);
  CHECK(p.samples.count("edgefhir_http_requests_total{interaction=\"create\",code=\"200\"}") == 0);
  const std::string b = "edgefhir_http_request_duration_seconds_bucket{interaction=\"read\",le=\"";
  CHECK(get(p, b + "0.0005\"}") == 2);
  CHECK(get(p, b + "0.001\"}") == 3);
  CHECK(get(p, b + "2.5\"}") == 3);
  CHECK(get(p, b + "5\"}") == 4);
  CHECK(get(p, b + "10\"}") == 4);
  CHECK(get(p, b + "+Inf\"}") == 5);
  CHECK(get(p, "edgefhir_http_request_duration_seconds_count{interaction=\"read\"}") == 5);
  CHECK(get(p, "edgefhir_http_request_duration_seconds_sum{interaction=\"read\"}") == Approx(23.001401));
  CHECK(get(p, "edgefhir_http_request_duration_seconds_bucket{interaction=\"create\",le=\"0.005\"}") == 0);
  CHECK(get(p, "edgefhir_http_request_duration_seconds_bucket{interaction=\"create\",le=\"0.01\"}") == 1);
  // buckets are cumulative and non-decreasing, one per bound plus +Inf
  int n = 0;
  double prev = -1;
  for (auto& [k, v] : p.samples)
    if (k.rfind(b, 0) == 0) ++n;
  CHECK(n == int(kNumLatencyBuckets) + 1);
  for (double le : kLatencyBuckets) {
    double v = get(p, b + format_value(le) + "\"}");
    CHECK(v >= prev);
    prev = v;
  }
  CHECK(m.requests("read", 200) == 4);
  CHECK(m.requests("read", 500) == 0);
  CHECK(m.requests("nothing", 200) == 0);
}

TEST_CASE("metrics: counts from many threads add up, including threads that have exited", "[metrics]") {
  Metrics m;
  m.set_process_metrics(false);
  const int threads = 8, per = 5000;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < per; ++i) {
        m.observe_request(t % 2 ? "read" : "update", 200, i);
        if (i % 10 == 0) m.auth_failure("expired");
      }
    });
  // render concurrently with the writers: must not crash or tear
  for (int i = 0; i < 20; ++i) REQUIRE(parse(m.render_prometheus()).error == "");
  for (auto& t : ts) t.join();
  // a second wave of short-lived threads reuses shards of the exited ones
  for (int wave = 0; wave < 50; ++wave) std::thread([&] { m.observe_request("read", 200, 1); }).join();
  Parsed p = parse(m.render_prometheus());
  REQUIRE(p.error == "");
  CHECK(get(p, "edgefhir_http_requests_total{interaction=\"read\",code=\"200\"}") == threads / 2 * per + 50);
  CHECK(get(p, "edgefhir_http_requests_total{interaction=\"update\",code=\"200\"}") == threads / 2 * per);
  CHECK(get(p, "edgefhir_auth_failures_total{reason=\"expired\"}") == threads * per / 10);
  CHECK(get(p, "edgefhir_http_request_duration_seconds_count{interaction=\"read\"}") == threads / 2 * per + 50);
  // a second registry in the same threads is independent
  Metrics other;
  other.observe_request("read", 200, 1);
  CHECK(other.requests("read", 200) == 1);
  CHECK(m.requests("read", 200) == uint64_t(threads / 2 * per + 50));
}

TEST_CASE("metrics: label values are escaped and parse back to the original", "[metrics]") {
  Metrics m;
  m.set_process_metrics(false);
  std::string weird = "a\"b\\c\nd";
  m.observe_request(weird, 500, 10);
  m.auth_failure("bad_signature");
  m.auth_failure("bad_signature");
  m.auth_failure("missing_token");
  m.set_build_info({{"version", "1.2.3"}, {"commit", "x\"y"}});
  std::string text = m.render_prometheus();
  CHECK(text.find("interaction=\"a\\\"b\\\\c\\nd\"") != std::string::npos);
  Parsed p = parse(text);
  REQUIRE(p.error == "");
  CHECK(get(p, "edgefhir_http_requests_total{interaction=\"" + weird + "\",code=\"500\"}") == 1);
  CHECK(get(p, "edgefhir_auth_failures_total{reason=\"bad_signature\"}") == 2);
  CHECK(get(p, "edgefhir_auth_failures_total{reason=\"missing_token\"}") == 1);
  CHECK(get(p, "edgefhir_build_info{version=\"1.2.3\",commit=\"x\"y\"}") == 1);
  CHECK(m.auth_failures("bad_signature") == 2);
  CHECK(escape_label_value("plain") == "plain");
  CHECK(escape_help("a\\b\nc\"") == "a\\\\b\\nc\"");
}

TEST_CASE("metrics: callback gauges and counters, with registration errors", "[metrics]") {
  Metrics m;
  m.set_process_metrics(false);
  double db_size = 4096;
  REQUIRE(m.add_gauge("edgefhir_database_size_bytes", "Size of the database file.", [&] { return db_size; }).ok());
  REQUIRE(m.add_gauge("edgefhir_jwks_age_seconds", "Seconds since the last successful JWKS refresh.", SampleFn([] {
                        return std::vector<Sample>{{{{"issuer", "https://b.example"}}, 12.5},
                                                   {{{"issuer", "https://a.example"}}, 3}};
                      }))
              .ok());
  REQUIRE(m.add_counter("edgefhir_jwks_refresh_errors_total", "Failed JWKS refreshes.\nSecond line", SampleFn([] {
                          return std::vector<Sample>{{{{"issuer", "https://a.example"}}, 2}};
                        }))
              .ok());
  REQUIRE(m.add_gauge("edgefhir_throws", "A callback that fails.", [] () -> double { throw std::runtime_error("x"); }).ok());
  CHECK_FALSE(m.add_gauge("edgefhir_database_size_bytes", "again", [] { return 1.0; }).ok());
  CHECK_FALSE(m.add_gauge("bad-name", "x", [] { return 1.0; }).ok());
  CHECK_FALSE(m.add_gauge("9lives", "x", [] { return 1.0; }).ok());
  CHECK_FALSE(m.add_counter("edgefhir_http_requests_total", "clash with a built-in", [] { return 1.0; }).ok());
  CHECK_FALSE(m.add_gauge("edgefhir_http_request_duration_seconds_bucket", "clash", [] { return 1.0; }).ok());
  CHECK_FALSE(m.add_gauge("edgefhir_null", "no callback", std::function<double()>()).ok());

  Parsed p = parse(m.render_prometheus());
  REQUIRE(p.error == "");
  CHECK(get(p, "edgefhir_database_size_bytes") == 4096);
  CHECK(p.type["edgefhir_database_size_bytes"] == "gauge");
  CHECK(get(p, "edgefhir_jwks_age_seconds{issuer=\"https://a.example\"}") == 3);
  CHECK(get(p, "edgefhir_jwks_age_seconds{issuer=\"https://b.example\"}") == 12.5);
  CHECK(p.type["edgefhir_jwks_refresh_errors_total"] == "counter");
  CHECK(p.help["edgefhir_jwks_refresh_errors_total"] == "Failed JWKS refreshes.\\nSecond line");
  CHECK(get(p, "edgefhir_jwks_refresh_errors_total{issuer=\"https://a.example\"}") == 2);
  CHECK(p.type.count("edgefhir_throws") == 1);  // family kept, no samples
  for (auto& [k, v] : p.samples) CHECK(k.rfind("edgefhir_throws", 0) != 0);
  // values are read at render time
  db_size = 1e10;
  p = parse(m.render_prometheus());
  CHECK(get(p, "edgefhir_database_size_bytes") == 1e10);
  // families come out sorted by name
  CHECK(std::is_sorted(p.order.begin(), p.order.end()));
}

TEST_CASE("metrics: label cardinality is bounded", "[metrics]") {
  Metrics m;
  m.set_process_metrics(false);
  for (size_t i = 0; i < kMaxLabelValues + 20; ++i) m.observe_request("i" + std::to_string(i), 200, 1);
  Parsed p = parse(m.render_prometheus());
  REQUIRE(p.error == "");
  std::set<std::string> names;
  for (auto& [k, v] : p.samples)
    if (k.rfind("edgefhir_http_requests_total{", 0) == 0) names.insert(k);
  CHECK(names.size() == kMaxLabelValues + 1);
  CHECK(get(p, "edgefhir_http_requests_total{interaction=\"other\",code=\"200\"}") == 20);
}

TEST_CASE("metrics: in-flight gauge, start time, process metrics and value formatting", "[metrics]") {
  Metrics m;
  {
    Metrics::InFlight a(m), b(m);
    CHECK(m.in_flight() == 2);
    Parsed p = parse(m.render_prometheus());
    REQUIRE(p.error == "");
    CHECK(get(p, "edgefhir_http_requests_in_flight") == 2);
  }
  CHECK(m.in_flight() == 0);
  m.set_start_time(1700000000.25);
  Parsed p = parse(m.render_prometheus());
  REQUIRE(p.error == "");
  CHECK(get(p, "edgefhir_start_time_seconds") == 1700000000.25);
  CHECK(get(p, "edgefhir_http_requests_in_flight") == 0);
  // empty built-in families still announce themselves
  CHECK(p.type["edgefhir_auth_failures_total"] == "counter");
#ifdef __linux__
  CHECK(get(p, "process_resident_memory_bytes") > 100000);
  CHECK(get(p, "process_open_fds") >= 3);
  CHECK(get(p, "process_threads") >= 1);
  CHECK(p.type["process_cpu_seconds_total"] == "counter");
#endif
  m.set_process_metrics(false);
  CHECK(parse(m.render_prometheus()).samples.count("process_resident_memory_bytes") == 0);

  CHECK(format_value(0) == "0");
  CHECK(format_value(42) == "42");
  CHECK(format_value(-3) == "-3");
  CHECK(format_value(0.0005) == "0.0005");
  CHECK(format_value(2.5) == "2.5");
  CHECK(format_value(0.1 + 0.2) == "0.30000000000000004");
  CHECK(format_value(1e300) == "1e+300");
  CHECK(format_value(INFINITY) == "+Inf");
  CHECK(format_value(-INFINITY) == "-Inf");
  CHECK(format_value(NAN) == "NaN");
  CHECK(std::strtod(format_value(1.0 / 3).c_str(), nullptr) == 1.0 / 3);
  CHECK(valid_metric_name("a:b_c9"));
  CHECK_FALSE(valid_metric_name(""));
  CHECK_FALSE(valid_label_name("__reserved"));
  CHECK_FALSE(valid_label_name("a:b"));
}

TEST_CASE("metrics: the process-wide registry is one object", "[metrics]") {
  CHECK(&metrics() == &metrics());
  uint64_t before = metrics().requests("metrics-test-probe", 299);
  metrics().observe_request("metrics-test-probe", 299, 1);
  CHECK(metrics().requests("metrics-test-probe", 299) == before + 1);
}

TEST_CASE("metrics: key-cache metrics per issuer from a status source", "[metrics]") {
  Metrics m;
  m.set_process_metrics(false);
  FixedClock clock(1795860000000);
  std::vector<auth::IssuerKeyStatus> st(2);
  st[0].issuer = "https://login.example/t1/v2.0";
  st[0].discovery = true;
  st[0].key_count = 3;
  st[0].last_success_ms = 1795860000000 - 90500;
  st[0].fetches = 7;
  st[0].fetch_errors = 2;
  st[0].unknown_kid = 5;
  st[1].issuer = "https://offline.example";
  st[1].discovery = false;  // pinned keys only: no age
  st[1].key_count = 1;
  st[1].stale = false;
  REQUIRE(add_key_store_metrics(m, [&] { return st; }, clock).ok());
  CHECK_FALSE(add_key_store_metrics(m, [&] { return st; }, clock).ok());  // registered once
  Parsed p = parse(m.render_prometheus());
  REQUIRE(p.error == "");
  const std::string a = "{issuer=\"https://login.example/t1/v2.0\"}", b = "{issuer=\"https://offline.example\"}";
  CHECK(get(p, "edgefhir_jwks_age_seconds" + a) == 90.5);
  CHECK(p.samples.count("edgefhir_jwks_age_seconds" + b) == 0);
  CHECK(get(p, "edgefhir_jwks_keys" + a) == 3);
  CHECK(get(p, "edgefhir_jwks_keys" + b) == 1);
  CHECK(get(p, "edgefhir_jwks_stale" + a) == 0);
  CHECK(p.type["edgefhir_jwks_refresh_errors_total"] == "counter");
  CHECK(get(p, "edgefhir_jwks_refresh_errors_total" + a) == 2);
  CHECK(get(p, "edgefhir_jwks_fetches_total" + a) == 7);
  CHECK(get(p, "edgefhir_jwks_unknown_kid_total" + a) == 5);
  // values follow the source and the clock at scrape time
  st[0].stale = true;
  st[0].fetch_errors = 3;
  clock.advance_ms(10000);
  p = parse(m.render_prometheus());
  CHECK(get(p, "edgefhir_jwks_stale" + a) == 1);
  CHECK(get(p, "edgefhir_jwks_refresh_errors_total" + a) == 3);
  CHECK(get(p, "edgefhir_jwks_age_seconds" + a) == 100.5);
}

TEST_CASE("metrics: callback histograms render cumulative buckets, sum and count", "[metrics]") {
  Metrics m;
  m.set_process_metrics(false);
  HistogramSample h{{1, 2, 4}, {5, 3, 0, 2}, 23};
  REQUIRE(m.add_histogram("edgefhir_database_write_group_size", "Writes per transaction.", [&] { return h; }).ok());
  CHECK_FALSE(m.add_histogram("edgefhir_database_write_group_size", "again", [&] { return h; }).ok());
  CHECK_FALSE(m.add_histogram("edgefhir_none", "no callback", HistogramFn()).ok());
  REQUIRE(m.add_histogram("edgefhir_bad_shape", "counts do not match bounds",
                          [] { return HistogramSample{{1, 2}, {1}, 1}; }).ok());
  Parsed p = parse(m.render_prometheus());
  REQUIRE(p.error == "");
  CHECK(p.type["edgefhir_database_write_group_size"] == "histogram");
  CHECK(get(p, "edgefhir_database_write_group_size_bucket{le=\"1\"}") == 5);
  CHECK(get(p, "edgefhir_database_write_group_size_bucket{le=\"2\"}") == 8);
  CHECK(get(p, "edgefhir_database_write_group_size_bucket{le=\"4\"}") == 8);
  CHECK(get(p, "edgefhir_database_write_group_size_bucket{le=\"+Inf\"}") == 10);
  CHECK(get(p, "edgefhir_database_write_group_size_sum") == 23);
  CHECK(get(p, "edgefhir_database_write_group_size_count") == 10);
  for (auto& [k, v] : p.samples) CHECK(k.rfind("edgefhir_bad_shape", 0) != 0);
  h.counts[0] = 6;  // read at render time
  CHECK(get(parse(m.render_prometheus()), "edgefhir_database_write_group_size_count") == 11);
}
