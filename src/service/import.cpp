// service/import.cpp — see import.h.
#include "service/import.h"
#include "service/terminology.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>

#include "fhir/resource.h"
#include "fhir/resource_types.h"
#include "store/search.h"

namespace ef::service {

namespace {

constexpr size_t kChunk = 1000;  // NDJSON lines per transaction

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

bool importable(const std::string& f) { return ends_with(f, ".json") || ends_with(f, ".ndjson"); }

// Files named on the command line are taken whatever their name; folders contribute only
// *.json and *.ndjson files.
}  // namespace

void collect_import_files(const std::string& path, bool top, std::vector<std::string>* files) {
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
  for (const auto& n : names) collect_import_files(base + "/" + n, false, files);
}

namespace {

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
  std::vector<BundleProcessor::PreparedEntry> ready;
  bool parsed = false;    // `entries` holds the transaction Bundle's entries (not preparable)
  std::vector<EntryRequest> entries;
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

}  // namespace

class Importer::Impl {
 public:
  Impl(store::Database& db, Repository& repo, BundleProcessor bp, const Clock& clock, const ImportLimits& lim,
       ImportReporter& reporter, ImportStats& stats)
      : db_(db), repo_(repo), clock_(clock), depth_(lim.max_json_depth), reporter_(reporter), stats_(stats),
        bp_(std::move(bp)) {
    opt_.base_url = lim.base_url;
    opt_.max_entries = lim.max_bundle_entries;
    opt_.limits.max_depth = lim.max_json_depth;
    opt_.ids_from_urn = true;
    opt_.now_ms = clock.now_ms();
  }

  // The loading thread's half of a file (no database): read, parse, and for a transaction
  // Bundle, split it into entries and prepare them (service/bundle_processor.h) so that the
  // JSON trees are built and freed on that thread and only bodies and index rows cross over
  // (freeing another thread's trees here cost as much as the work saved).
  static Loaded load_and_prepare(const std::string& path, size_t depth, const BundleProcessor& bp,
                                 const BundleOptions& opt, int64_t now_ms) {
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
      ImportStats before = stats_;
      problems_.clear();
      isolate_ = false;
      group_failed_ = false;
      Status st = db_.write([&](store::Conn& c) -> Status {
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
        st = db_.write([&](store::Conn& c) -> Status {
          while (i < last) file(c, load(files[i++], depth_));
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
        reporter_.problem(m);
      }
      problems_.clear();
      reporter_.progress(stats_);
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
    else l = load_and_prepare(files[i], depth_, bp_, opt_, clock_.now_ms());
    if (ahead_.valid()) ahead_.wait();  // a stale prefetch (after a retried group): let it end
    if (i + 1 < files.size()) {
      ahead_index_ = i + 1;
      ahead_ = std::async(std::launch::async, [this, path = files[i + 1]] {
        return load_and_prepare(path, depth_, bp_, opt_, clock_.now_ms());
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
    if (!group_failed_) reporter_.progress(stats_);
    return size_t(std::max<int64_t>(1, stats_.resources() + stats_.failed - before));
  }

  // Reported when the group is settled (a group run again must not report twice).
  void problem(const std::string& msg) { problems_.push_back(msg); }

  void count(const WriteResult& w) {
    if (w.unchanged) ++stats_.unchanged;
    else ++stats_.stored;
  }

  // One resource (update-or-create) inside the caller's transaction.
  Result<WriteResult> put(store::Conn& c, json::Value res) {
    std::string type = fhir::resource_type_of(res);
    const std::string* idp = json::get_string(res, "id");
    if (idp && !idp->empty()) {
      std::string id = *idp;
      return repo_.update(c, type, id, std::move(res));
    }
    return repo_.create(c, std::move(res));
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
    Result<WriteResult> w = Status(Err::internal, "not run");
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
  void prepared_bundle(store::Conn& c, const std::string& path, std::vector<BundleProcessor::PreparedEntry> ready) {
    size_t n = ready.size();
    whole_bundle(c, path, n, [&] { return bp_.commit_prepared(c, std::move(ready)); });
  }

  void bundle_entries(store::Conn& c, const std::string& path, const std::string& type,
                      std::vector<EntryRequest> entries) {
    if (type == "batch") {
      // Each entry on its own (as BundleProcessor::batch, but inside the group's transaction).
      std::map<std::string, std::string> refs;
      for (auto& e : entries) {
        std::map<std::string, std::string> attempt = refs;
        Result<EntryResult> r = Status(Err::internal, "not run");
        Status st = unit(c, [&]() -> Status {
          r = bp_.execute(c, e, opt_, &attempt);
          return r.ok() ? Status() : r.status();
        });
        if (group_failed_) return;
        if (!st) {
          problem(path + ": " + entry_name(e) + ": " + st.message);
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
    Result<BundleResult> r = Status(Err::internal, "not run");
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

  void tally(const EntryResult& x) {
    using O = Outcome;
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
    lim.max_depth = depth_;
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
        reporter_.progress(stats_);
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
    lim.max_depth = depth_;
    for (auto& l : chunk) {
      Result<WriteResult> w = Status(Err::internal, "not run");
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

  store::Database& db_;
  Repository& repo_;
  const Clock& clock_;
  size_t depth_;
  ImportReporter& reporter_;
  ImportStats& stats_;
  BundleProcessor bp_;
  BundleOptions opt_{Access::unrestricted()};
  std::future<Loaded> ahead_;  // the next file, loading on another thread
  size_t ahead_index_ = 0;
  std::vector<std::string> problems_;
  bool isolate_ = false;       // units under savepoints (the retry of a failed group)
  bool group_failed_ = false;  // a unit failed outside isolation: the group runs again
};

Importer::Importer(store::Database& db, Repository& repo, BundleProcessor bp, const Clock& clock,
                   const ImportLimits& lim, ImportReporter& reporter)
    : impl_(std::make_unique<Impl>(db, repo, std::move(bp), clock, lim, reporter, stats_)) {}

Importer::~Importer() = default;

void Importer::run(const std::vector<std::string>& files) {
  impl_->run(files);
  Terminology::bump_generation();  // imported CodeSystems / ValueSets invalidate cached expansions
}

}  // namespace ef::service
