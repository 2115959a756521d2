// cli/import.cpp — `edgefhir import PATH...`: loads FHIR data from files and folders into the
// database without a server.
//
//   *.json    a resource (update-or-create by its id; created with a new id when it has none),
//             or a Bundle: transaction / batch Bundles run as they would on POST [base]
//             (service/bundle_processor.h) except that a POST entry with a urn:uuid fullUrl
//             writes Type/<uuid> (ids_from_urn), so Synthea-style bundles import idempotently;
//             any other Bundle type (collection, searchset, document, ...) is loaded as one
//             transaction of its entries (PUT Type/id when the resource has an id, else POST).
//   *.ndjson  one resource per line (Bulk Data format), in chunks of kChunk lines; a chunk
//             that fails is retried line by line so only the bad lines fail.
//   folders   recursively, files in name order; other file names are skipped.
//
// Speed: files are written in groups of about kGroup resources per SQLite transaction (see
// Importer::run); a group in which anything fails is run again with every unit (file, Bundle,
// batch entry, NDJSON chunk or line) under a SAVEPOINT, so a failure undoes only that unit.
// While this thread writes one file, the next one is read, parsed and -- for a transaction
// Bundle of plain creates -- prepared on another thread (BundleProcessor::prepare_import:
// references rewritten, resources stamped, serialised and indexed), so this thread mostly
// runs SQLite; the JSON trees never cross threads (freeing another thread's allocations cost
// as much as the work moved, measured).  Anything else goes through the general path here.
//
// Resumable: every write is an update-or-create, and an update identical to the stored version
// makes no new version (service/repository.h), so re-running an import (e.g. after an interrupt)
// only writes what is missing.  A bad file, line or entry is reported as "FILE:LINE: message"
// ("FILE: entry N (...): message" inside a Bundle) and the rest goes on; the exit status is 1
// when anything failed, 2 for usage errors.
//
// On a terminal (stderr is a TTY) a progress line shows resources, rate and ETA (by bytes read);
// otherwise only the problems and a one-line summary are printed.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "app/build.h"
#include "service/bundle_processor.h"
#include "fhir/resource.h"
#include "fhir/resource_types.h"
#include "store/search.h"

namespace ef::cli {

static const char* kImportHelp =
    "usage: edgefhir import [--config FILE] [--database PATH] [--progress|--no-progress] PATH...\n\n"
    "Loads FHIR JSON files (*.json: a resource or a Bundle), NDJSON files (*.ndjson: one resource\n"
    "per line) and folders (recursively, in name order).\n"
    "  transaction/batch Bundles   processed as on POST [base]; a POST entry whose fullUrl is\n"
    "                              urn:uuid:X is stored as Type/X, so re-importing changes nothing\n"
    "  other Bundles (collection)  their entries, as one transaction\n"
    "  resources with an id        update-or-create; an identical resource is skipped\n"
    "Re-running an import is safe: what is already stored is reported as unchanged.\n"
    "Problems are reported as FILE:LINE (or FILE: entry N) and the rest goes on; the exit status\n"
    "is 1 when anything failed.  A progress line (count, rate, ETA) is shown when stderr is a\n"
    "terminal (--progress / --no-progress force it on / off).\n";

namespace {

constexpr size_t kChunk = 1000;  // NDJSON lines per transaction

using SteadyClock = std::chrono::steady_clock;

struct Stats {
  int64_t stored = 0, unchanged = 0, failed = 0;
  uint64_t bytes_total = 0, bytes_done = 0;
  SteadyClock::time_point start = SteadyClock::now();
  double seconds() const { return std::chrono::duration<double>(SteadyClock::now() - start).count(); }
  int64_t resources() const { return stored + unchanged; }
};

std::string fmt_count(int64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

std::string fmt_duration(double s) {
  if (s < 0 || s > 359999) return "--:--";
  int t = int(s + 0.5);
  char buf[32];
  if (t >= 3600) snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
  else snprintf(buf, sizeof buf, "%d:%02d", t / 60, t % 60);
  return buf;
}

// The progress line on a terminal, redrawn at most every 100 ms; problems printed while it is
// shown clear it first.
class Progress {
 public:
  Progress(std::ostream& err, bool on, const Stats& s) : err_(err), on_(on), s_(s) {}
  void update(bool force = false) {
    if (!on_) return;
    auto now = SteadyClock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double secs = s_.seconds();
    double frac = s_.bytes_total ? double(s_.bytes_done) / double(s_.bytes_total) : 1.0;
    if (frac > 1) frac = 1;
    const int width = 24;
    int fill = int(frac * width);
    std::string bar = "[" + std::string(fill, '#') + std::string(width - fill, '.') + "]";
    double rate = secs > 0 ? double(s_.resources() + s_.failed) / secs : 0;
    double eta = frac > 0 && secs > 0 ? secs * (1 - frac) / frac : -1;
    char pct[16];
    snprintf(pct, sizeof pct, "%3d%%", int(frac * 100));
    std::string line = bar + " " + pct + "  " + fmt_count(s_.resources()) + " resources  " +
                       fmt_count(int64_t(rate)) + "/s  ETA " + (frac >= 1 ? "0:00" : fmt_duration(eta));
    if (s_.failed) line += "  " + fmt_count(s_.failed) + " failed";
    err_ << "\r" << line << "\x1b[K" << std::flush;
    shown_ = true;
  }
  // Clears the line before other output.
  void clear() {
    if (on_ && shown_) err_ << "\r\x1b[K" << std::flush;
    shown_ = false;
  }
  void finish() {
    if (!on_) return;
    update(true);
    err_ << "\n";
    shown_ = false;
  }

 private:
  std::ostream& err_;
  bool on_;
  const Stats& s_;
  bool shown_ = false;
  SteadyClock::time_point last_{};
};

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

bool importable(const std::string& f) { return ends_with(f, ".json") || ends_with(f, ".ndjson"); }

// Files named on the command line are taken whatever their name; folders contribute only
// *.json and *.ndjson files.
void collect(const std::string& path, bool top, std::vector<std::string>* files) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    if (top || importable(path)) files->push_back(path);
    return;
  }
  DIR* d = ::opendir(path.c_str());
  if (!d) {
    files->push_back(path);  // reported as unreadable
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::string base = path;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  for (const auto& n : names) collect(base + "/" + n, false, files);
}

// A file as the importer consumes it: a .json file read and parsed; an .ndjson file only
// named (streamed line by line).  A transaction Bundle may come already prepared (see
// Importer::next): then `doc` is empty and `ready` holds its entries.
struct Loaded {
  std::string path;
  bool ndjson = false;
  uint64_t size = 0;
  Status read;  // not ok: the file cannot be read
  Result<json::Value> doc = Status(Err::internal, "not parsed");
  bool prepared = false;  // `ready` holds the Bundle (BundleProcessor::prepare_import)
  std::vector<service::BundleProcessor::PreparedEntry> ready;
  bool parsed = false;    // `entries` holds the transaction Bundle's entries (not preparable)
  std::vector<service::EntryRequest> entries;
};

Loaded load(const std::string& path, size_t max_depth) {
  Loaded l;
  l.path = path;
  l.ndjson = ends_with(path, ".ndjson");
  struct stat sb;
  if (l.ndjson) {
    if (::stat(path.c_str(), &sb) == 0) l.size = uint64_t(sb.st_size);
    return l;
  }
  std::ifstream in(path, std::ios::binary);
  std::string text;
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  if (!in) {
    l.read = Status(Err::invalid, std::string("cannot be read (") + std::strerror(errno) + ")");
    return l;
  }
  l.size = text.size();
  json::ParseOptions po;
  po.preserve_numbers = true;
  po.max_depth = max_depth + 4;  // Bundle.entry[].resource
  l.doc = json::parse(text, po);
  return l;
}

class Importer {
 public:
  Importer(http::App& app, std::ostream& err, bool progress)
      : app_(app), err_(err), progress_(err, progress, stats_),
        bp_(app.service->processor()) {
    opt_.base_url = app.base_url;
    opt_.max_entries = app.cfg.limits.max_bundle_entries;
    opt_.limits.max_depth = app.cfg.limits.max_json_depth;
    opt_.ids_from_urn = true;
    opt_.now_ms = app.clock->now_ms();
  }

  // The loading thread's half of a file (no database): read, parse, and for a transaction
  // Bundle, split it into entries and prepare them (service/bundle_processor.h) so that the
  // JSON trees are built and freed on that thread and only bodies and index rows cross over
  // (freeing another thread's trees here cost as much as the work saved).
  static Loaded load_and_prepare(const std::string& path, size_t depth, const service::BundleProcessor& bp,
                                 const service::BundleOptions& opt, int64_t now_ms) {
    Loaded l = load(path, depth);
    if (!l.read || l.ndjson || !l.doc || fhir::resource_type_of(*l.doc) != "Bundle" ||
        json::string_or(*l.doc, "type") != "transaction")
      return l;
    std::string type;
    auto entries = bp.parse(std::move(*l.doc), opt, &type);
    if (!entries) {
      l.doc = entries.status();  // reported by json_file as for any unreadable file
      return l;
    }
    l.doc = Status(Err::internal, "split into entries");
    if (bp.prepare_import(*entries, opt, now_ms, &l.ready)) {
      l.prepared = true;
    } else {
      l.parsed = true;
      l.entries = std::move(*entries);
    }
    return l;
  }

  Stats& stats() { return stats_; }
  Progress& progress() { return progress_; }

  // Files go in groups of about kGroup resources per SQLite transaction: far fewer commits
  // and WAL page rewrites than one per file (every Bundle touches the index B-trees all over).
  // Optimistic: a group runs without savepoints (they cost a sub-journal copy of every page
  // touched); when any unit in it fails, the group is rolled back and run again with each
  // unit (file, Bundle, batch entry, NDJSON chunk or line) under a SAVEPOINT, so that a
  // failure undoes only that unit.  Problems are reported once the group is settled.
  void run(const std::vector<std::string>& files) {
    size_t i = 0;
    while (i < files.size()) {
      size_t first = i;
      Stats before = stats_;
      problems_.clear();
      isolate_ = false;
      group_failed_ = false;
      Status st = app_.db->write([&](store::Conn& c) -> Status {
        size_t n = 0;
        while (i < files.size() && n < kGroup) {
          n += file(c, next(files, i++));
          if (group_failed_) return Status(Err::conflict, "a unit failed: run the group again unit by unit");
        }
        return Status();
      });
      if (!st) {
        size_t last = i;  // the group's files: [first, last)
        stats_ = before;
        problems_.clear();
        isolate_ = true;
        group_failed_ = false;
        i = first;
        st = app_.db->write([&](store::Conn& c) -> Status {
          while (i < last) file(c, load(files[i++], app_.cfg.limits.max_json_depth));
          return Status();
        });
        if (!st) {  // the commit itself failed: nothing of this group is in
          int64_t lost = (stats_.stored - before.stored) + (stats_.unchanged - before.unchanged);
          stats_.stored = before.stored;
          stats_.unchanged = before.unchanged;
          stats_.failed += lost;
          for (size_t k = first; k < last; ++k) problems_.push_back(files[k] + ": not imported: " + st.message);
        }
      }
      for (const auto& m : problems_) {
        progress_.clear();
        err_ << m << "\n";
      }
      problems_.clear();
      progress_.update();
    }
  }

 private:
  static constexpr size_t kGroup = 5000;

  // files[i], loaded and prepared; meanwhile the file after it is loaded and prepared on
  // another thread, overlapping this thread's SQLite work.  (The retry of a failed group
  // loads on this thread, with load(): nothing prepared.)
  Loaded next(const std::vector<std::string>& files, size_t i) {
    Loaded l;
    if (ahead_.valid() && ahead_index_ == i) l = ahead_.get();
    else l = load_and_prepare(files[i], app_.cfg.limits.max_json_depth, bp_, opt_, app_.clock->now_ms());
    if (ahead_.valid()) ahead_.wait();  // a stale prefetch (after a retried group): let it end
    if (i + 1 < files.size()) {
      ahead_index_ = i + 1;
      ahead_ = std::async(std::launch::async, [this, path = files[i + 1]] {
        return load_and_prepare(path, app_.cfg.limits.max_json_depth, bp_, opt_, app_.clock->now_ms());
      });
    }
    return l;
  }

  // Runs one unit of work: under a savepoint when isolating (on error only fn's writes are
  // undone), else directly (on error the whole group is run again, isolated).
  template <class F>
  Status unit(store::Conn& c, F&& fn) {
    if (!isolate_) {
      Status st = fn();
      if (!st) group_failed_ = true;
      return st;
    }
    Status st = c.exec("SAVEPOINT import_unit");
    if (!st) return st;
    st = fn();
    if (!st) c.exec("ROLLBACK TO import_unit");
    Status rel = c.exec("RELEASE import_unit");
    return st ? rel : st;
  }

  // One file inside the group's transaction; returns about how many resources it held.
  size_t file(store::Conn& c, Loaded l) {
    if (!l.read) {
      problem(l.path + ": " + l.read.message);
      ++stats_.failed;
      return 1;
    }
    uint64_t base = stats_.bytes_done;
    int64_t before = stats_.resources() + stats_.failed;
    if (l.ndjson) ndjson(c, l.path, base);
    else if (l.prepared) prepared_bundle(c, l.path, std::move(l.ready));
    else if (l.parsed) bundle_entries(c, l.path, "transaction", std::move(l.entries));
    else json_file(c, l.path, std::move(l.doc));
    stats_.bytes_done = base + l.size;
    if (!group_failed_) progress_.update();
    return size_t(std::max<int64_t>(1, stats_.resources() + stats_.failed - before));
  }

  // Reported when the group is settled (a group run again must not report twice).
  void problem(const std::string& msg) { problems_.push_back(msg); }

  void count(const service::WriteResult& w) {
    if (w.unchanged) ++stats_.unchanged;
    else ++stats_.stored;
  }

  // One resource (update-or-create) inside the caller's transaction.
  Result<service::WriteResult> put(store::Conn& c, json::Value res) {
    std::string type = fhir::resource_type_of(res);
    const std::string* idp = json::get_string(res, "id");
    if (idp && !idp->empty()) {
      std::string id = *idp;
      return app_.repo->update(c, type, id, std::move(res));
    }
    return app_.repo->create(c, std::move(res));
  }

  void json_file(store::Conn& c, const std::string& path, Result<json::Value> doc) {
    if (!doc) {
      problem(path + ": " + doc.status().message);
      ++stats_.failed;
      return;
    }
    if (fhir::resource_type_of(*doc) == "Bundle") {
      std::string type = json::string_or(*doc, "type");
      if (type != "transaction" && type != "batch") {
        Status st = as_transaction(*doc);
        if (!st) {
          problem(path + ": " + st.message);
          ++stats_.failed;
          return;
        }
      }
      return bundle(c, path, std::move(*doc));
    }
    Status st = fhir::check_json_rules(*doc);
    if (st && !fhir::is_resource_type(fhir::resource_type_of(*doc)))
      st = Status(Err::invalid, "not a FHIR resource: resourceType '" + fhir::resource_type_of(*doc) + "'");
    Result<service::WriteResult> w = Status(Err::internal, "not run");
    if (st) st = unit(c, [&]() -> Status {
      w = put(c, std::move(*doc));
      return w.ok() ? Status() : w.status();
    });
    if (!st) {
      problem(path + ": " + st.message);
      ++stats_.failed;
      return;
    }
    count(*w);
  }

  // A collection (or other non-transaction) Bundle becomes a transaction of its entries.
  static Status as_transaction(json::Value& doc) {
    json::Object* o = json::as_object_mut(doc);
    (*o)["type"] = json::Value(std::string("transaction"));
    json::Value* entries = json::get_mut(doc, "entry");
    if (!entries) return Status();
    if (!json::is_array(*entries)) return Status(Err::invalid, "Bundle.entry must be an array");
    auto& arr = entries->get<json::Array>();
    for (size_t i = 0; i < arr.size(); ++i) {
      json::Object* e = json::as_object_mut(arr[i]);
      if (!e) return Status(Err::invalid, "entry " + std::to_string(i) + ": an entry must be an object");
      const json::Value* r = json::get(arr[i], "resource");
      if (!r) return Status(Err::invalid, "entry " + std::to_string(i) + ": the entry has no resource");
      std::string type = fhir::resource_type_of(*r);
      const std::string* id = json::get_string(*r, "id");
      json::Object rq;
      if (id && !id->empty()) {
        rq["method"] = json::Value(std::string("PUT"));
        rq["url"] = json::Value(type + "/" + *id);
      } else {
        rq["method"] = json::Value(std::string("POST"));
        rq["url"] = json::Value(type);
      }
      (*e)["request"] = json::Value(std::move(rq));
      e->erase("response");
      e->erase("search");
    }
    return Status();
  }

  void bundle(store::Conn& c, const std::string& path, json::Value doc) {
    std::string type;
    auto entries = bp_.parse(std::move(doc), opt_, &type);
    if (!entries) {
      problem(path + ": " + entries.status().message);
      ++stats_.failed;
      return;
    }
    bundle_entries(c, path, type, std::move(*entries));
  }

  // A transaction Bundle prepared on the loading thread: written here as transaction() would.
  void prepared_bundle(store::Conn& c, const std::string& path, std::vector<service::BundleProcessor::PreparedEntry> ready) {
    size_t n = ready.size();
    whole_bundle(c, path, n, [&] { return bp_.commit_prepared(c, std::move(ready)); });
  }

  void bundle_entries(store::Conn& c, const std::string& path, const std::string& type,
                      std::vector<service::EntryRequest> entries) {
    if (type == "batch") {
      // Each entry on its own (as BundleProcessor::batch, but inside the group's transaction).
      std::map<std::string, std::string> refs;
      for (auto& e : entries) {
        std::map<std::string, std::string> attempt = refs;
        Result<service::EntryResult> r = Status(Err::internal, "not run");
        Status st = unit(c, [&]() -> Status {
          r = bp_.execute(c, e, opt_, &attempt);
          return r.ok() ? Status() : r.status();
        });
        if (group_failed_) return;
        if (!st) {
          problem(path + ": " + service::entry_name(e) + ": " + st.message);
          ++stats_.failed;
        } else {
          refs = std::move(attempt);
          tally(*r);
        }
      }
      return;
    }
    size_t n = entries.size();
    whole_bundle(c, path, n, [&] { return bp_.transaction(c, std::move(entries), opt_); });
  }

  // A transaction Bundle as one unit: all its n entries go in, or none (and it is reported).
  template <class F>
  void whole_bundle(store::Conn& c, const std::string& path, size_t n, F&& run) {
    Result<service::BundleResult> r = Status(Err::internal, "not run");
    Status st = unit(c, [&]() -> Status {
      r = run();
      return r.ok() ? Status() : r.status();
    });
    if (!st) {
      problem(path + ": " + st.message + " (the Bundle's " + std::to_string(n) + " entries were not imported)");
      stats_.failed += int64_t(n ? n : 1);
      return;
    }
    for (const auto& x : r->results) tally(x);
  }

  void tally(const service::EntryResult& x) {
    using O = service::Outcome;
    if (x.outcome == O::created || x.outcome == O::updated || (x.outcome == O::deleted && !x.deleted.empty()))
      ++stats_.stored;
    else if (x.outcome == O::unchanged || x.outcome == O::exists || x.outcome == O::deleted)
      ++stats_.unchanged;
  }

  struct Line {
    size_t number;
    std::string text;  // for the retry
    json::Value res;
  };

  // Streams the file (any size) line by line.
  void ndjson(store::Conn& c, const std::string& path, uint64_t base) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      problem(path + ": cannot be read (" + std::strerror(errno) + ")");
      ++stats_.failed;
      return;
    }
    fhir::ParseLimits lim;
    lim.max_depth = app_.cfg.limits.max_json_depth;
    std::vector<Line> chunk;
    size_t number = 0;
    uint64_t done = 0;
    std::string line;
    while (std::getline(in, line)) {
      ++number;
      done += line.size() + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      auto res = fhir::parse_resource(line, lim);
      if (!res) {
        problem(path + ":" + std::to_string(number) + ": " + res.status().message);
        ++stats_.failed;
        continue;
      }
      chunk.push_back(Line{number, std::move(line), std::move(*res)});
      line = std::string();
      if (chunk.size() >= kChunk) {
        write_chunk(c, path, chunk);
        if (group_failed_) return;
        chunk.clear();
        stats_.bytes_done = base + done;
        progress_.update();
      }
    }
    if (in.bad()) {
      problem(path + ":" + std::to_string(number + 1) + ": read error (" + std::strerror(errno) + ")");
      ++stats_.failed;
    }
    if (!chunk.empty()) write_chunk(c, path, chunk);
  }

  void write_chunk(store::Conn& c, const std::string& path, std::vector<Line>& chunk) {
    int64_t stored = 0, unchanged = 0;
    Status st = unit(c, [&]() -> Status {
      for (auto& l : chunk) {
        auto w = put(c, std::move(l.res));
        if (!w) return w.status();
        ++(w->unchanged ? unchanged : stored);
      }
      return Status();
    });
    if (st) {
      stats_.stored += stored;
      stats_.unchanged += unchanged;
      return;
    }
    if (group_failed_) return;
    // Undone: again line by line (parsing again), so only the bad lines fail.
    fhir::ParseLimits lim;
    lim.max_depth = app_.cfg.limits.max_json_depth;
    for (auto& l : chunk) {
      Result<service::WriteResult> w = Status(Err::internal, "not run");
      Status s2 = unit(c, [&]() -> Status {
        auto res = fhir::parse_resource(l.text, lim);
        if (!res) return res.status();
        w = put(c, std::move(*res));
        return w.ok() ? Status() : w.status();
      });
      if (!s2) {
        problem(path + ":" + std::to_string(l.number) + ": " + s2.message);
        ++stats_.failed;
      } else {
        count(*w);
      }
    }
  }

  http::App& app_;
  std::ostream& err_;
  Stats stats_;
  Progress progress_;
  service::BundleProcessor bp_;
  service::BundleOptions opt_{service::Access::unrestricted()};
  std::future<Loaded> ahead_;  // the next file, loading on another thread
  size_t ahead_index_ = 0;
  std::vector<std::string> problems_;
  bool isolate_ = false;       // units under savepoints (the retry of a failed group)
  bool group_failed_ = false;  // a unit failed outside isolation: the group runs again
};

}  // namespace

int import_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  Common common;
  Status st = take_common(args, &common);
  if (!st) { err << "edgefhir import: " << st.message << "\n"; return 2; }
  if (common.help) { out << kImportHelp; return 0; }
  int progress = -1;  // -1 auto
  std::vector<std::string> paths;
  for (const auto& a : args) {
    if (a == "--progress") progress = 1;
    else if (a == "--no-progress") progress = 0;
    else if (a.size() > 1 && a[0] == '-') { err << "edgefhir import: unknown option '" << a << "'\n" << kImportHelp; return 2; }
    else paths.push_back(a);
  }
  if (paths.empty()) { err << kImportHelp; return 2; }
  auto cfg = load(common);
  if (!cfg) { err << "edgefhir: " << cfg.status().message << "\n"; return 2; }
  auto app = ef::app::open_app(*cfg);
  if (!app) { err << "edgefhir: " << app.status().message << "\n"; return 1; }
  std::vector<std::string> files;
  for (const auto& p : paths) collect(p, true, &files);
  bool show = progress == 1 || (progress == -1 && &err == &std::cerr && ::isatty(STDERR_FILENO));
  Importer imp(**app, err, show);
  for (const auto& f : files) {
    struct stat sb;
    if (::stat(f.c_str(), &sb) == 0) imp.stats().bytes_total += uint64_t(sb.st_size);
  }
  imp.run(files);
  imp.progress().finish();
  const Stats& s = imp.stats();
  double secs = s.seconds();
  char rate[64];
  snprintf(rate, sizeof rate, "%.1f s, %s resources/s", secs,
           fmt_count(secs > 0 ? int64_t(double(s.resources()) / secs) : 0).c_str());
  out << "imported " << s.resources() << " resources from " << files.size() << (files.size() == 1 ? " file" : " files")
      << ": " << s.stored << " stored, " << s.unchanged << " unchanged, " << s.failed << " failed (" << rate << ")\n";
  return s.failed ? 1 : 0;
}

}  // namespace ef::cli
