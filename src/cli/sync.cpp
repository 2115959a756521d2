// cli/sync.cpp — `edgefhir sync status|now|conflicts` (issue 9):
//   status     queue length, oldest unsent change, last success, last error, upstream,
//              conflicts (--json for a machine-readable object)
//   now        push synchronously until the queue is empty or an error (exit 0 only when
//              everything was acknowledged)
//   conflicts  the recorded conflicts and refused changes, newest first (--limit N)
// All take --config FILE and --database PATH.  The work is sync/'s (Pusher) and store/'s
// (sync_state); this file parses arguments and prints.
#include "app/build.h"
#include "cli/commands.h"
#include "store/db.h"
#include "store/sync_state.h"
#include "sync/pusher.h"
#include "sync/sync_config.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/time.h"

namespace ef::cli {
using namespace ef::sync;

namespace {

const char* kHelp =
    "usage: edgefhir sync <status|now|conflicts> [--config FILE] [--database PATH] [options]\n\n"
    "Edge-to-cloud sync: local changes are pushed to the upstream FHIR server named by the\n"
    "\"sync\" section of the configuration (see README: Sync).\n"
    "  status      queue length, oldest unsent change, last success and error, conflicts\n"
    "  now         push until the queue is empty or an error (exit 1 on error)\n"
    "  conflicts   recorded conflicts and refused changes, newest first\n"
    "options:\n"
    "  --json      machine-readable output (status, now, conflicts)\n"
    "  --limit N   conflicts to show (default 20)\n";

std::string when(int64_t ms, int64_t now) {
  if (ms <= 0) return "never";
  int64_t ago = (now - ms) / 1000;
  return timefmt::format_instant(ms) + (ago >= 0 ? " (" + timefmt::human_duration(ago) + " ago)" : "");
}

void print_status(const SyncStatus& s, int64_t now, std::ostream& out) {
  out << "upstream:       " << s.upstream << (s.enabled ? "" : " (sync disabled in the configuration)") << "\n";
  out << "mode:           " << s.mode << "\n";
  if (s.enabled_at_ms == 0) {
    out << "state:          sync has not run against this upstream yet (it starts with the next `serve`)\n";
    return;
  }
  out << "queue:          " << s.queue_length << " change" << (s.queue_length == 1 ? "" : "s")
      << (s.queue_length ? ", oldest unsent " + when(s.oldest_unsent_ms, now) : std::string()) << " (max_queue "
      << s.max_queue << (s.over_cap ? ", EXCEEDED" : "") << ")\n";
  out << "progress:       pushed up to seq " << s.pushed_seq << " of " << s.newest_seq << "; enabled at seq "
      << s.start_seq << " on " << timefmt::format_instant(s.enabled_at_ms) << "; " << s.pushed_total
      << " changes acknowledged\n";
  out << "last success:   " << when(s.last_success_ms, now) << "\n";
  out << "last error:     "
      << (s.last_error.empty() ? std::string("none") : when(s.last_error_ms, now) + ": " + s.last_error) << "\n";
  if (s.consecutive_failures)
    out << "failing:        " << s.consecutive_failures << " consecutive failed attempt"
        << (s.consecutive_failures == 1 ? "" : "s") << "\n";
  out << "conflicts:      " << s.conflicts << " conflict" << (s.conflicts == 1 ? "" : "s") << ", " << s.rejected
      << " refused change" << (s.rejected == 1 ? "" : "s") << (s.conflicts + s.rejected ? " (edgefhir sync conflicts)" : "")
      << "\n";
  out << "health:         " << s.health << (s.health_reason.empty() ? "" : ": " + s.health_reason) << "\n";
}

json::Value conflict_json(const store::SyncConflictRow& r) {
  json::Object o;
  o["at"] = json::Value(timefmt::format_instant(r.at));
  o["resource"] = json::Value(r.type + "/" + r.id);
  o["local_version"] = json::make_number(r.local_version);
  o["change_seq"] = json::make_number(r.change_seq);
  o["kind"] = json::Value(r.kind);
  o["expected_version"] = r.expected_version.empty() ? json::Value() : json::Value(r.expected_version);
  o["upstream_version"] = r.upstream_version.empty() ? json::Value() : json::Value(r.upstream_version);
  o["resolution"] = json::Value(r.resolution);
  o["detail"] = json::Value(r.detail);
  return json::Value(o);
}

}  // namespace

int sync_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  cli::Common common;
  Status st = cli::take_common(args, &common);
  if (!st) {
    err << "edgefhir sync: " << st.message << "\n";
    return 2;
  }
  if (common.help || args.empty()) {
    (common.help ? out : err) << kHelp;
    return common.help ? 0 : 2;
  }
  std::string cmd = args[0];
  bool as_json = false;
  int limit = 20;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--json") as_json = true;
    else if (args[i] == "--limit" && i + 1 < args.size()) {
      try {
        limit = std::stoi(args[++i]);
      } catch (...) {
        limit = -1;
      }
      if (limit < 1) {
        err << "edgefhir sync: --limit needs a positive number\n";
        return 2;
      }
    } else {
      err << "edgefhir sync: unexpected argument '" << args[i] << "'\n" << kHelp;
      return 2;
    }
  }
  if (cmd != "status" && cmd != "now" && cmd != "conflicts") {
    err << "edgefhir sync: unknown subcommand '" << cmd << "'\n" << kHelp;
    return 2;
  }
  auto cfg = cli::load(common);
  if (!cfg) {
    err << "edgefhir: " << cfg.status().message << "\n";
    return 2;
  }
  auto sc = sync::sync_config_of(*cfg);
  if (!sc) {
    err << "edgefhir: " << sc.status().message << "\n";
    return 2;
  }
  if (sc->upstream.empty()) {
    err << "edgefhir sync: the configuration has no \"sync\" section"
        << (cfg->path.empty() ? " (no --config given)" : " (" + cfg->path + ")") << "\n";
    return 2;
  }
  log::set_quiet(true);  // the CLI reports on stdout/stderr itself
  auto db = store::Database::open(cfg->database, app::db_options(*cfg));
  if (!db) {
    err << "edgefhir: " << db.status().message << "\n";
    return 1;
  }
  const Clock& clock = SystemClock::instance();
  int64_t now = clock.now_ms();

  if (cmd == "conflicts") {
    store::SyncState state(**db);
    auto rows = state.conflicts(sc->upstream, limit);
    if (!rows) {
      err << "edgefhir: " << rows.status().message << "\n";
      return 1;
    }
    if (as_json) {
      json::Array a;
      for (const auto& r : *rows) a.push_back(conflict_json(r));
      out << json::write(json::Value(a), true) << "\n";
      return 0;
    }
    if (rows->empty()) out << "no conflicts or refused changes recorded for " << sc->upstream << "\n";
    for (const auto& r : *rows)
      out << timefmt::format_instant(r.at) << "  " << r.type << "/" << r.id << " v" << r.local_version << " (seq "
          << r.change_seq << ")  " << r.kind << ", " << r.resolution << ": " << r.detail << "\n";
    return 0;
  }

  int rc = 0;
  std::string mode_used;
  if (cmd == "now") {
    if (!sc->enabled) {
      err << "edgefhir sync: sync is disabled in the configuration (\"enabled\": false)\n";
      return 2;
    }
    log::set_quiet(true);
    Pusher p(**db, *sc, clock);
    st = p.init();
    if (!st) {
      err << "edgefhir: " << st.message << "\n";
      return 2;
    }
    auto r = p.push_until_empty();
    if (!r) {
      err << "edgefhir sync now: " << r.status().message << "\n";
      rc = 1;
    } else {
      mode_used = r->mode;
    }
    if (r && !as_json) {
      out << "pushed " << r->changes << " change" << (r->changes == 1 ? "" : "s") << " as " << r->entries
          << " request" << (r->entries == 1 ? "" : "s") << " (" << r->mode << "): " << r->acknowledged
          << " acknowledged, " << r->conflicts << " conflict" << (r->conflicts == 1 ? "" : "s") << ", " << r->rejected
          << " refused\n";
    }
    now = clock.now_ms();
  }
  auto s = read_status(**db, *sc, clock);
  if (!s) {
    err << "edgefhir: " << s.status().message << "\n";
    return 1;
  }
  if (!mode_used.empty()) s->mode = mode_used;
  if (as_json) out << json::write(s->to_json(), true) << "\n";
  else print_status(*s, now, out);
  if (cmd == "now" && rc == 0 && s->queue_length > 0) rc = 1;  // e.g. written meanwhile; say so
  return rc;
}

}  // namespace ef::cli
