// Audit trail store (store/audit.h) and `edgefhir audit` (cli/audit.h).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>

#include "cli/audit.h"
#include "store/audit.h"
#include "../testing.h"

using namespace ef;

namespace {

using testing::temp_db;

std::unique_ptr<store::Database> open_db(const char* name) { return testing::open_temp_db(name); }

int64_t count_rows(store::Database& db) {
  int64_t n = -1;
  db.read([&](store::Conn& c) {
    auto& q = c.prepare("SELECT COUNT(*) FROM audit_event");
    if (q.step()) n = q.int64(0);
    q.reset();
    return Status();
  });
  return n;
}

// Every text column of every row, concatenated (to prove a secret appears nowhere).
std::string dump(store::Database& db) {
  std::string all;
  db.read([&](store::Conn& c) {
    auto& q = c.prepare(
        "SELECT COALESCE(request_id,'')||'|'||COALESCE(subject,'')||'|'||COALESCE(client_id,'')||'|'||COALESCE(tenant,'')||'|'||"
        "COALESCE(issuer,'')||'|'||COALESCE(interaction,'')||'|'||COALESCE(type,'')||'|'||COALESCE(id,'')||'|'||"
        "COALESCE(query,'')||'|'||COALESCE(outcome,'') FROM audit_event");
    while (q.step()) all += std::string(q.text(0)) + "\n";
    q.reset();
    return Status();
  });
  return all;
}

store::AuditEvent event(int64_t ts, const std::string& subject, const std::string& client = "app-1") {
  store::AuditEvent e;
  e.ts_ms = ts;
  e.request_id = "req-" + std::to_string(ts);
  e.subject = subject;
  e.client_id = client;
  e.tenant = "tid";
  e.issuer = "https://login.microsoftonline.com/tid/v2.0";
  e.interaction = "read";
  e.type = "Patient";
  e.id = "1";
  e.status = 200;
  return e;
}

constexpr int64_t kDay = 24LL * 3600 * 1000;
constexpr int64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00Z

}  // namespace

TEST_CASE("append buffers; flush writes every field in one batch", "[audit]") {
  auto db = open_db("append");
  FixedClock clock(kT0);
  store::AuditLog log(*db, clock);
  store::AuditEvent e = event(kT0 - 5, "oid-1");
  e.query = "name=smith&_count=10";
  e.status = 403;
  e.outcome = "create Observation requires role permission 'write'";
  log.append(e);
  log.append(event(0, "oid-2"));  // ts 0 = now
  CHECK(count_rows(*db) == 0);    // nothing written before a flush
  CHECK(log.stats().pending == 2);
  REQUIRE(log.flush().ok());
  CHECK(count_rows(*db) == 2);
  CHECK(log.stats().written == 2);
  CHECK(log.stats().pending == 0);

  auto rows = store::audit_query(*db, {});
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  const auto& newest = (*rows)[0];
  CHECK(newest.subject == "oid-2");
  CHECK(newest.ts_ms == kT0);
  const auto& r = (*rows)[1];
  CHECK(r.ts_ms == kT0 - 5);
  CHECK(r.request_id == "req-" + std::to_string(kT0 - 5));
  CHECK(r.client_id == "app-1");
  CHECK(r.tenant == "tid");
  CHECK(r.issuer == "https://login.microsoftonline.com/tid/v2.0");
  CHECK(r.interaction == "read");
  CHECK(r.type == "Patient");
  CHECK(r.id == "1");
  CHECK(r.query == "name=smith&_count=10");
  CHECK(r.status == 403);
  CHECK(r.outcome == "create Observation requires role permission 'write'");
}

TEST_CASE("the background writer flushes a full batch and on the interval, and stop() flushes the rest", "[audit]") {
  auto db = open_db("batch");
  FixedClock clock(kT0);
  store::AuditOptions opt;
  opt.batch_size = 50;
  opt.flush_interval_ms = 3600 * 1000;  // only the batch size can trigger a write
  {
    store::AuditLog log(*db, clock, opt);
    log.start();
    for (int i = 0; i < 49; ++i) log.append(event(kT0 + i, "u"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(count_rows(*db) == 0);  // below the batch size, before the interval
    log.append(event(kT0 + 49, "u"));
    for (int i = 0; i < 200 && count_rows(*db) < 50; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(count_rows(*db) == 50);
    log.append(event(kT0 + 50, "u"));
    log.stop();
    CHECK(count_rows(*db) == 51);
    log.append(event(kT0 + 51, "u"));
  }  // the destructor flushes what came after stop()
  CHECK(count_rows(*db) == 52);

  opt.batch_size = 500;
  opt.flush_interval_ms = 20;
  store::AuditLog log(*db, clock, opt);
  log.start();
  log.append(event(kT0 + 60, "v"));
  for (int i = 0; i < 200 && count_rows(*db) < 53; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(count_rows(*db) == 53);
}

TEST_CASE("query filters by time and who, newest first, with a limit", "[audit]") {
  auto db = open_db("query");
  FixedClock clock(kT0);
  store::AuditLog log(*db, clock);
  log.append(event(kT0 - 3 * kDay, "alice-oid", "portal"));
  log.append(event(kT0 - 2 * kDay, "bob-oid", "portal"));
  log.append(event(kT0 - 1 * kDay, "alice-oid", "lab-app"));
  log.append(event(kT0, "carol-oid", "ALICE-tool"));

  auto q = [&](int64_t since, const std::string& who, int limit) {
    auto r = log.query(store::AuditQuery{since, who, limit});
    REQUIRE(r.ok());
    std::vector<int64_t> ts;
    for (const auto& e : *r) ts.push_back(e.ts_ms);
    return ts;
  };
  CHECK(q(0, "", 100) == std::vector<int64_t>{kT0, kT0 - kDay, kT0 - 2 * kDay, kT0 - 3 * kDay});
  CHECK(q(kT0 - 2 * kDay, "", 100) == std::vector<int64_t>{kT0, kT0 - kDay, kT0 - 2 * kDay});
  CHECK(q(0, "alice", 100) == std::vector<int64_t>{kT0, kT0 - kDay, kT0 - 3 * kDay});  // subject or client id, any case
  CHECK(q(0, "bob", 100) == std::vector<int64_t>{kT0 - 2 * kDay});
  CHECK(q(0, "lab-app", 100) == std::vector<int64_t>{kT0 - kDay});
  CHECK(q(0, "%", 100).empty());  // no LIKE wildcards
  CHECK(q(0, "", 2) == std::vector<int64_t>{kT0, kT0 - kDay});
}

TEST_CASE("retention prunes events older than retention_days", "[audit]") {
  auto db = open_db("prune");
  FixedClock clock(kT0);
  store::AuditOptions opt;
  opt.retention_days = 30;
  store::AuditLog log(*db, clock, opt);
  log.append(event(kT0 - 31 * kDay, "old"));
  log.append(event(kT0 - 30 * kDay - 1, "old"));
  log.append(event(kT0 - 30 * kDay, "edge"));
  log.append(event(kT0 - kDay, "new"));
  REQUIRE(log.flush().ok());
  auto n = log.prune();
  REQUIRE(n.ok());
  CHECK(*n == 2);
  auto rows = store::audit_query(*db, {});
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].subject == "new");
  CHECK((*rows)[1].subject == "edge");

  // start() prunes at once (on the writer thread).
  clock.advance_ms(10 * kDay);
  log.start();
  for (int i = 0; i < 200 && count_rows(*db) > 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(count_rows(*db) == 1);
  log.stop();

  // retention 0 keeps everything.
  store::AuditOptions keep;
  keep.retention_days = 0;
  store::AuditLog forever(*db, clock, keep);
  forever.append(event(1, "ancient"));
  REQUIRE(forever.flush().ok());
  auto none = forever.prune();
  REQUIRE(none.ok());
  CHECK(*none == 0);
  CHECK(count_rows(*db) == 2);

  // Pruning works in chunks: more rows than one chunk all go.
  for (int i = 0; i < 12000; ++i) forever.append(event(2 + i, "bulk"));
  REQUIRE(forever.flush().ok());
  auto bulk = store::audit_prune(*db, 100000);
  REQUIRE(bulk.ok());
  CHECK(*bulk == 12001);
}

TEST_CASE("tokens are never stored, whatever the caller passes", "[audit]") {
  const std::string jwt =
      "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiIxMjMiLCJhdWQiOiJhcGkifQ.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
  auto db = open_db("secret");
  FixedClock clock(kT0);
  store::AuditLog log(*db, clock);
  store::AuditEvent e = event(kT0, "oid");
  e.query = "name=smith&access_token=" + jwt + "&_count=5&Client_Secret=s3cr3t&id%5Ftoken=abc&password=pw&note=" + jwt;
  e.outcome = "bad token " + jwt + " refused";
  e.id = jwt;
  log.append(e);
  REQUIRE(log.flush().ok());
  std::string all = dump(*db);
  CHECK(all.find("eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ") == std::string::npos);
  CHECK(all.find("c2lnbmF0dXJl") == std::string::npos);
  CHECK(all.find("s3cr3t") == std::string::npos);
  CHECK(all.find("abc") == std::string::npos);
  CHECK(all.find("pw") == std::string::npos);
  auto rows = store::audit_query(*db, {});
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].query == "name=smith&_count=5&note=[redacted]");
  CHECK((*rows)[0].outcome == "bad token [redacted] refused");
  CHECK((*rows)[0].id == "[redacted]");
}

TEST_CASE("redact_query keeps FHIR search parameters", "[audit]") {
  CHECK(store::redact_query("?code=http://loinc.org|1234-5&subject=Patient/1") == "code=http://loinc.org|1234-5&subject=Patient/1");
  CHECK(store::redact_query("access_token=x") == "");
  CHECK(store::redact_query("a=1&&ACCESS_TOKEN=x&refresh_token=y&b=2") == "a=1&b=2");
  CHECK(store::redact_query("_include=Observation:patient&api_key=k") == "_include=Observation:patient");
  CHECK(store::redact_query("x=eyJshort") == "x=eyJshort");  // too short to be a JWT
}

TEST_CASE("a full buffer drops and counts instead of blocking", "[audit]") {
  auto db = open_db("drop");
  FixedClock clock(kT0);
  store::AuditOptions opt;
  opt.max_pending = 3;
  store::AuditLog log(*db, clock, opt);
  for (int i = 0; i < 5; ++i) log.append(event(kT0 + i, "u"));
  auto st = log.stats();
  CHECK(st.appended == 3);
  CHECK(st.dropped == 2);
  REQUIRE(log.flush().ok());
  CHECK(count_rows(*db) == 3);
}

TEST_CASE("audit config section", "[audit]") {
  auto v = json::parse(R"({"retention_days": 7, "batch_size": 100})");
  REQUIRE(v.ok());
  auto o = store::audit_options_from_config(*v);
  REQUIRE(o.ok());
  CHECK(o->retention_days == 7);
  CHECK(o->batch_size == 100);
  CHECK(o->flush_interval_ms == 1000);
  CHECK(store::audit_options_from_config(json::Value())->retention_days == 90);
  auto bad = json::parse(R"({"retention_days": -1})");
  REQUIRE(bad.ok());
  auto b = store::audit_options_from_config(*bad);
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().message == "config: audit.retention_days must be an integer from 0 to 36500");
}

// ---- edgefhir audit ----

TEST_CASE("audit --since accepts ISO times and durations", "[audit]") {
  CHECK(cli::parse_since("1h", kT0) == kT0 - 3600 * 1000);
  CHECK(cli::parse_since("2d", kT0) == kT0 - 2 * kDay);
  CHECK(cli::parse_since("90s", kT0) == kT0 - 90 * 1000);
  CHECK(cli::parse_since("15m", kT0) == kT0 - 15 * 60 * 1000);
  CHECK(cli::parse_since("1w", kT0) == kT0 - 7 * kDay);
  CHECK(cli::parse_since("2026-01-01", 0) == kT0);
  CHECK(cli::parse_since("2026-01-01T01:00:00Z", 0) == kT0 + 3600 * 1000);
  CHECK_FALSE(cli::parse_since("yesterday", kT0));
  CHECK_FALSE(cli::parse_since("1y", kT0));
  CHECK_FALSE(cli::parse_since("", kT0));
}

TEST_CASE("edgefhir audit prints a table or JSON and validates its arguments", "[audit]") {
  auto db = open_db("cli");
  FixedClock clock(kT0);
  {
    store::AuditLog log(*db, clock);
    store::AuditEvent denied = event(kT0 - 2 * 3600 * 1000, "alice-oid", "portal");
    denied.interaction = "create";
    denied.type = "Observation";
    denied.id.clear();
    denied.status = 403;
    denied.outcome = "create Observation requires role permission 'write'";
    log.append(denied);
    store::AuditEvent search = event(kT0 - 60 * 1000, "bob-oid", "lab");
    search.interaction = "search-type";
    search.id.clear();
    search.query = "name=smith";
    log.append(search);
  }
  auto run = [&](std::vector<std::string> args, std::string* out_text, std::string* err_text = nullptr) {
    std::ostringstream out, err;
    int rc = cli::audit_on(args, *db, out, err, clock);
    *out_text = out.str();
    if (err_text) *err_text = err.str();
    return rc;
  };
  std::string out, err;
  REQUIRE(run({}, &out) == 0);
  CHECK(out.find("TIME (UTC)") == 0);
  size_t a = out.find("2025-12-31T22:00:00Z  403");
  size_t b = out.find("2025-12-31T23:59:00Z  200");
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  CHECK(a < b);  // oldest first
  CHECK(out.find("create Observation requires role permission 'write'") != std::string::npos);
  CHECK(out.find("?name=smith") != std::string::npos);
  CHECK(out.find("2 events\n") != std::string::npos);

  REQUIRE(run({"--since", "1h"}, &out) == 0);
  CHECK(out.find("alice-oid") == std::string::npos);
  CHECK(out.find("bob-oid") != std::string::npos);

  REQUIRE(run({"--who=ALICE", "--json"}, &out) == 0);
  auto j = json::parse(out);
  REQUIRE(j.ok());
  REQUIRE(json::as_array(*j));
  REQUIRE(json::as_array(*j)->size() == 1);
  const json::Value& e = json::as_array(*j)->at(0);
  CHECK(json::string_or(e, "subject") == "alice-oid");
  CHECK(json::string_or(e, "time") == "2025-12-31T22:00:00.000Z");
  CHECK(json::string_or(e, "outcome") == "create Observation requires role permission 'write'");
  CHECK(json::get(e, "query") == nullptr);

  REQUIRE(run({"--limit", "1"}, &out) == 0);
  CHECK(out.find("bob-oid") != std::string::npos);
  CHECK(out.find("alice-oid") == std::string::npos);
  CHECK(out.find("limit reached") != std::string::npos);

  REQUIRE(run({"--help"}, &out) == 0);
  CHECK(out.find("usage: edgefhir audit") == 0);
  CHECK(run({"--limit", "0"}, &out, &err) == 2);
  CHECK(err.find("--limit must be a number") != std::string::npos);
  CHECK(run({"--since", "soon"}, &out, &err) == 2);
  CHECK(err.find("'soon'") != std::string::npos);
  CHECK(run({"--who"}, &out, &err) == 2);
  CHECK(run({"--bogus"}, &out, &err) == 2);
  CHECK(err.find("unknown argument '--bogus'") != std::string::npos);
}
