// cli/audit.cpp — see audit.h.  Argument parsing and output formatting only; the query
// itself is store::audit_query.  audit_main opens the database named by --config/--database
// (never creating one) and hands over to audit_on.
#include "cli/audit.h"
#include "cli/commands.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include "util/time.h"

namespace ef::cli {

namespace {

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 100000;

const char kUsage[] =
    "usage: edgefhir audit [--since T] [--who X] [--limit N] [--json]\n"
    "\n"
    "Shows the audit trail: who did what, when, and with which outcome.\n"
    "\n"
    "  --since T   only events at or after T: an ISO date/time (2026-03-01,\n"
    "              2026-03-01T10:00:00Z) or a duration back from now (90s, 15m, 1h, 2d, 1w)\n"
    "  --who X     subject (oid/sub) or client id containing X (case-insensitive)\n"
    "  --limit N   at most N events, the most recent ones (default 50)\n"
    "  --json      print a JSON array instead of a table\n"
    "  --help      this text\n";

}  // namespace

const char* audit_usage() { return kUsage; }

namespace {

// Pads or cuts to width w (cut text ends with '~'), then two spaces of gutter.
std::string col(const std::string& s, size_t w) {
  if (s.size() > w) return s.substr(0, w - 1) + "~  ";
  return s + std::string(w - s.size() + 2, ' ');
}

std::string time_text(int64_t ms) {
  std::string t = timefmt::format_instant(ms);  // 2026-11-28T10:00:00.123Z
  size_t dot = t.find('.');
  return dot == std::string::npos ? t : t.substr(0, dot) + "Z";
}

std::string resource_text(const store::AuditEvent& e) {
  if (e.type.empty()) return e.id;
  return e.id.empty() ? e.type : e.type + "/" + e.id;
}

}  // namespace

std::optional<int64_t> parse_since(const std::string& s, int64_t now_ms) {
  if (s.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(s[0])) && s.size() >= 2 && s.size() <= 10) {
    char unit = s.back();
    std::string digits = s.substr(0, s.size() - 1);
    if (std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      int64_t n = std::stoll(digits);
      int64_t mult = unit == 's' ? 1000 : unit == 'm' ? 60000 : unit == 'h' ? 3600000 : unit == 'd' ? 86400000
                   : unit == 'w' ? 7 * 86400000LL : 0;
      if (mult) return now_ms - n * mult;
    }
  }
  if (auto r = timefmt::parse_fhir_time(s)) return r->lo_ms;
  return std::nullopt;
}

json::Value audit_event_json(const store::AuditEvent& e) {
  json::Object o;
  o["seq"] = json::Value(double(e.seq));
  o["time"] = json::Value(timefmt::format_instant(e.ts_ms));
  o["status"] = json::Value(double(e.status));
  auto put = [&](const char* k, const std::string& v) {
    if (!v.empty()) o[k] = json::Value(v);
  };
  put("request_id", e.request_id);
  put("subject", e.subject);
  put("client_id", e.client_id);
  put("tenant", e.tenant);
  put("issuer", e.issuer);
  put("interaction", e.interaction);
  put("type", e.type);
  put("id", e.id);
  put("query", e.query);
  put("outcome", e.outcome);
  return json::Value(o);
}

int audit_on(const std::vector<std::string>& args, store::Database& db, std::ostream& out, std::ostream& err) {
  return audit_on(args, db, out, err, SystemClock::instance());
}

int audit_on(const std::vector<std::string>& args, store::Database& db, std::ostream& out, std::ostream& err,
              const Clock& clock) {
  store::AuditQuery q;
  q.limit = kDefaultLimit;
  bool as_json = false;
  auto bad = [&](const std::string& msg) {
    err << "edgefhir audit: " << msg << "\n" << kUsage;
    return 2;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], val;
    bool inline_val = false;
    if (a.rfind("--", 0) == 0) {
      size_t eq = a.find('=');
      if (eq != std::string::npos) {
        val = a.substr(eq + 1);
        a.resize(eq);
        inline_val = true;
      }
    }
    auto value = [&](std::string* v) {
      if (inline_val) {
        *v = val;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      *v = args[++i];
      return true;
    };
    if (a == "--help" || a == "-h") {
      out << kUsage;
      return 0;
    } else if (a == "--json" && !inline_val) {
      as_json = true;
    } else if (a == "--since") {
      std::string v;
      if (!value(&v)) return bad("--since needs a value");
      auto t = parse_since(v, clock.now_ms());
      if (!t) return bad("--since '" + v + "' is neither an ISO date/time nor a duration like 1h or 2d");
      q.since_ms = *t;
    } else if (a == "--who") {
      if (!value(&q.who)) return bad("--who needs a value");
    } else if (a == "--limit") {
      std::string v;
      if (!value(&v)) return bad("--limit needs a value");
      bool digits = !v.empty() && v.size() <= 6 &&
                    std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
      int n = digits ? std::stoi(v) : 0;
      if (n < 1 || n > kMaxLimit) return bad("--limit must be a number from 1 to " + std::to_string(kMaxLimit));
      q.limit = n;
    } else {
      return bad("unknown argument '" + args[i] + "'");
    }
  }

  auto rows = store::audit_query(db, q);
  if (!rows) {
    err << "edgefhir audit: cannot read the audit trail: " << rows.status().message << "\n";
    return 1;
  }
  std::vector<store::AuditEvent>& ev = *rows;
  std::reverse(ev.begin(), ev.end());  // oldest first

  if (as_json) {
    json::Array a;
    for (const auto& e : ev) a.push_back(audit_event_json(e));
    out << json::write(json::Value(a), true) << "\n";
    return 0;
  }
  out << col("TIME (UTC)", 20) << col("STATUS", 6) << col("INTERACTION", 18) << col("RESOURCE", 28)
      << col("WHO", 36) << col("CLIENT", 36) << "DETAIL\n";
  for (const auto& e : ev) {
    std::string detail = !e.outcome.empty() ? e.outcome : e.query.empty() ? "" : "?" + e.query;
    out << col(time_text(e.ts_ms), 20) << col(std::to_string(e.status), 6) << col(e.interaction, 18)
        << col(resource_text(e), 28) << col(e.subject.empty() ? "-" : e.subject, 36)
        << col(e.client_id.empty() ? "-" : e.client_id, 36) << detail << "\n";
  }
  out << ev.size() << (ev.size() == 1 ? " event" : " events");
  if (int(ev.size()) == q.limit) out << " (limit reached: use --limit or --since to see more)";
  out << "\n";
  return 0;
}

int audit_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  Common common;
  Status st = take_common(args, &common);
  if (!st) { err << "edgefhir audit: " << st.message << "\n"; return 2; }
  // --help needs no database (and must not create one).
  if (common.help || std::find(args.begin(), args.end(), "-h") != args.end() ||
      std::find(args.begin(), args.end(), "--help") != args.end()) {
    out << audit_usage();
    return 0;
  }
  auto cfg = load(common);
  if (!cfg) { err << "edgefhir: " << cfg.status().message << "\n"; return 2; }
  struct stat sb;
  if (::stat(cfg->database.c_str(), &sb) != 0) {
    err << "edgefhir audit: no database at '" << cfg->database << "' (give --config FILE or --database PATH)\n";
    return 1;
  }
  auto db = store::Database::open(cfg->database);
  if (!db) { err << "edgefhir: " << db.status().message << "\n"; return 1; }
  return audit_on(args, **db, out, err);
}

}  // namespace ef::cli
