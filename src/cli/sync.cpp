// cli/sync.cpp — `edgefhir sync status|now|conflicts|resolve` (issues 9, 22):
//   status     both directions: queue length, oldest unsent change, last success, last error,
//              upstream, conflicts; per pull search the last successful run, the cursor,
//              resources received and the last error (--json for a machine-readable object)
//   now        pull every configured search (sync.pull), then push until the queue is empty
//              or an error (exit 0 only when everything was acknowledged)
//   conflicts  the recorded conflicts and refused changes of both directions, newest first
//              (--limit N); manual ones waiting for a decision say so
//   resolve    `resolve ID --keep local|upstream` decides a pending (manual) conflict
// All take --config FILE and --database PATH.  The work is sync/'s (Pusher) and store/'s
// (sync_state); this file parses arguments and prints.
#include "app/build.h"
#include "cli/commands.h"
#include "store/db.h"
#include "store/sync_state.h"
#include "http/app.h"
#include "sync/puller.h"
#include "sync/pusher.h"
#include "sync/sync_config.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/time.h"

namespace ef::cli {
using namespace ef::sync;

namespace {

const char* kHelp =
    "usage: edgefhir sync <status|now|conflicts|resolve ID --keep local|upstream> [--config FILE]\n"
    "                     [--database PATH] [options]\n\n"
    "Two-way sync with the upstream FHIR server named by the \"sync\" section of the\n"
    "configuration (see README: Sync): local changes are pushed, the searches of sync.pull\n"
    "are pulled.\n"
    "  status      both directions: push queue, last success and error, conflicts; per pull\n"
    "              search the last successful run, cursor, resources received, errors\n"
    "  now         pull every search, then push until the queue is empty (exit 1 on error)\n"
    "  conflicts   recorded conflicts and refused changes, newest first\n"
    "  resolve     decide a pending manual conflict: --keep local (pushed over the upstream's\n"
    "              version) or --keep upstream (written as a new local version)\n"
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
  if (s.pending)
    out << "pending:        " << s.pending << " manual conflict" << (s.pending == 1 ? "" : "s")
        << " waiting for `edgefhir sync resolve ID --keep local|upstream`\n";
  out << "health:         " << s.health << (s.health_reason.empty() ? "" : ": " + s.health_reason) << "\n";
}

void print_pull(const std::vector<PullQueryStatus>& v, int64_t now, std::ostream& out) {
  if (v.empty()) {
    out << "pull:           nothing (no sync.pull searches configured)\n";
    return;
  }
  for (const PullQueryStatus& q : v) {
    out << "pull:           " << q.search << " every " << q.interval_seconds << " s\n";
    out << "  last success: " << when(q.last_success_ms, now)
        << (q.full_done ? "" : q.last_success_ms ? " (first full download not finished yet)" : "") << "\n";
    out << "  cursor:       " << (q.cursor_ms ? timefmt::format_instant(q.cursor_ms) : std::string("none yet")) << "\n";
    out << "  received:     " << q.received_total << " version" << (q.received_total == 1 ? "" : "s") << ", "
        << q.deleted_total << " deletion" << (q.deleted_total == 1 ? "" : "s") << "\n";
    out << "  last error:   "
        << (q.last_error.empty() ? std::string("none") : when(q.last_error_ms, now) + ": " + q.last_error) << "\n";
    if (q.health != "pass") out << "  health:       " << q.health << ": " << q.health_reason << "\n";
  }
}

json::Value conflict_json(const store::SyncConflictRow& r) {
  json::Object o;
  o["id"] = json::make_number(r.seq);
  o["direction"] = json::Value(r.direction);
  if (r.resolved_at) o["resolved_at"] = json::Value(timefmt::format_instant(r.resolved_at));
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
  int64_t resolve_id = 0;
  std::string keep;
  size_t first = 1;
  if (cmd == "resolve") {
    if (args.size() < 2 || args[1].empty() || args[1].size() > 18 ||
        args[1].find_first_not_of("0123456789") != std::string::npos) {
      err << "edgefhir sync resolve: needs the conflict's ID (edgefhir sync conflicts)\n" << kHelp;
      return 2;
    }
    resolve_id = std::stoll(args[1]);
    first = 2;
  }
  for (size_t i = first; i < args.size(); ++i) {
    if (args[i] == "--json") as_json = true;
    else if (args[i] == "--keep" && cmd == "resolve" && i + 1 < args.size()) keep = args[++i];
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
  if (cmd == "resolve" && keep != "local" && keep != "upstream") {
    err << "edgefhir sync resolve: --keep local or --keep upstream is required\n";
    return 2;
  }
  if (cmd != "status" && cmd != "now" && cmd != "conflicts" && cmd != "resolve") {
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
  auto app = app::open_app(*cfg);  // the database, and the repository that pull and resolve write through
  if (!app) {
    err << "edgefhir: " << app.status().message << "\n";
    return 1;
  }
  std::unique_ptr<store::Database>* db = &(*app)->db;
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
      out << "#" << r.seq << "  " << timefmt::format_instant(r.at) << "  " << r.direction << "  " << r.type << "/"
          << r.id << " v" << r.local_version << " (seq " << r.change_seq << ")  " << r.kind << ", " << r.resolution
          << ": " << r.detail << "\n";
    return 0;
  }

  if (cmd == "resolve") {
    Pusher p(**db, *sc, clock);
    st = p.init();
    if (st) st = sync::resolve_conflict(**db, *(*app)->repo, p, *sc, resolve_id, keep == "local", clock);
    if (!st) {
      err << "edgefhir sync resolve: " << st.message << "\n";
      return 1;
    }
    out << "conflict " << resolve_id << " resolved: "
        << (keep == "local" ? "the local version was pushed to the upstream\n"
                            : "the upstream version is now the local one\n");
    return 0;
  }

  int rc = 0;
  std::string mode_used;
  if (cmd == "now" && !sc->pull.empty() && sc->enabled) {
    Puller pl(**db, *(*app)->repo, *sc, clock);
    st = pl.init();
    auto r = st ? pl.pull_all() : Result<PullReport>(st);
    if (!r) {
      err << "edgefhir sync now: pull: " << r.status().message << "\n";
      rc = 1;
    } else if (!as_json) {
      out << "pulled " << r->pages << " page" << (r->pages == 1 ? "" : "s") << ": " << r->received << " received, "
          << r->unchanged << " already held, " << r->deleted << " deleted, " << r->conflicts << " conflict"
          << (r->conflicts == 1 ? "" : "s") << ", " << r->rejected << " refused\n";
    }
  }
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
  auto pulls = read_pull_status(**db, *sc, clock);
  if (!pulls) {
    err << "edgefhir: " << pulls.status().message << "\n";
    return 1;
  }
  if (as_json) {
    json::Value j = s->to_json();
    json::Array pa;
    for (const auto& q : *pulls) pa.push_back(q.to_json());
    if (json::Object* o = json::as_object_mut(j)) (*o)["pull"] = json::Value(pa);
    out << json::write(j, true) << "\n";
  } else {
    print_status(*s, now, out);
    print_pull(*pulls, now, out);
  }
  if (cmd == "now" && rc == 0 && s->queue_length > 0) rc = 1;  // e.g. written meanwhile; say so
  return rc;
}

}  // namespace ef::cli
