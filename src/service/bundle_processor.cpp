// service/bundle_processor.cpp — see bundle_processor.h.  This file: entry_name() and the
// drivers: transaction() (checks, then DELETE, ids assigned, POST, PUT/PATCH, GET, the first
// failure aborting), batch() (one write transaction per entry) and process().  The other parts
// of BundleProcessor: bundle_parse.cpp (parsing, reference rewriting), bundle_entry.cpp (one
// entry), bundle_import.cpp (the bulk import halves); shared helpers in bundle_internal.h.
#include "service/bundle_processor.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "fhir/fhirpath_patch.h"
#include "fhir/json_patch.h"
#include "fhir/outcome.h"
#include "fhir/resource_types.h"
#include "fhir/search_params.h"
#include "fhir/search_query.h"
#include "service/reads.h"
#include "store/search.h"
#include "util/base64url.h"
#include "util/time.h"
#include "service/bundle_internal.h"

namespace ef::service {

std::string entry_name(const EntryRequest& e) {
  std::string s = "entry " + std::to_string(e.index);
  if (!e.full_url.empty()) s += " (" + e.full_url + ")";
  else if (!e.method.empty()) s += " (" + e.method + " " + e.url + ")";
  return s;
}

namespace bundle_detail {

Status at_entry(const EntryRequest& e, Status st) {
  st.message = entry_name(e) + ": " + st.message;
  return st;
}

int phase_of(const std::string& m) {
  if (m == "DELETE") return 0;
  if (m == "POST") return 1;
  if (m == "PUT" || m == "PATCH") return 2;
  return 3;  // GET HEAD
}

void tally(BundleResult& out) {
  for (const auto& r : out.results) {
    if (r.outcome == Outcome::failed) ++out.failed;
    else if (r.outcome == Outcome::created || r.outcome == Outcome::updated ||
             (r.outcome == Outcome::deleted && !r.deleted.empty()))
      ++out.written;
    else if (r.outcome == Outcome::unchanged || r.outcome == Outcome::exists)
      ++out.unchanged;
  }
}

}  // namespace bundle_detail

using bundle_detail::at_entry;
using bundle_detail::phase_of;
using bundle_detail::tally;

// ---------------------------------------------------------------------------------------
// Drivers

static Status response_budget_spent(const BundleOptions& opt) {
  return Status(Err::too_large, "not run: the response would exceed " + std::to_string(opt.max_response_bytes) +
                                    " bytes (limits.max_response_bytes)");
}

Result<BundleResult> BundleProcessor::transaction(store::Conn& c, std::vector<EntryRequest> entries,
                                                  const BundleOptions& opt) {
  BundleResult out;
  out.type = "transaction";
  out.results.resize(entries.size());
  // One identity may be written once per transaction.
  {
    std::set<std::string> urls, targets;
    for (const auto& e : entries) {
      if (e.method == "GET" || e.method == "HEAD") continue;
      if (!e.full_url.empty() && !urls.insert(e.full_url).second)
        return at_entry(e, Status(Err::invalid, "fullUrl '" + e.full_url + "' appears more than once in the transaction"));
      if (!e.id.empty() && !targets.insert(e.type + "/" + e.id).second)
        return at_entry(e, Status(Err::invalid, e.type + "/" + e.id + " is the target of more than one entry"));
    }
  }
  std::vector<size_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return phase_of(entries[a].method) < phase_of(entries[b].method); });
  size_t k = 0;
  // 1. DELETE
  for (; k < order.size() && phase_of(entries[order[k]].method) == 0; ++k) {
    EntryRequest& e = entries[order[k]];
    auto r = remove(c, e, opt);
    if (!r) return at_entry(e, r.status());
    out.results[order[k]] = std::move(*r);
  }
  // 2. ids for every writing entry, so references can point forwards and backwards.
  std::map<std::string, std::string> refs;
  std::vector<std::string> target(entries.size());
  std::vector<char> exists(entries.size(), 0);
  std::set<std::string> written;
  for (size_t j = k; j < order.size() && phase_of(entries[order[j]].method) <= 2; ++j) {
    EntryRequest& e = entries[order[j]];
    bool ex = false;
    Status st = assign(c, e, opt, &target[order[j]], &ex);
    if (!st) return at_entry(e, st);
    exists[order[j]] = ex;
    if (!ex && !written.insert(e.type + "/" + target[order[j]]).second)
      return at_entry(e, Status(Err::invalid, e.type + "/" + target[order[j]] + " is the target of more than one entry"));
    if (!e.full_url.empty()) refs[e.full_url] = e.type + "/" + target[order[j]];
  }
  // 3. POST, then PUT/PATCH.
  std::map<std::string, std::string> cache;
  for (; k < order.size() && phase_of(entries[order[k]].method) <= 2; ++k) {
    size_t i = order[k];
    EntryRequest& e = entries[i];
    auto r = write(c, e, opt, target[i], exists[i], refs, &cache);
    if (!r) return at_entry(e, r.status());
    out.results[i] = std::move(*r);
  }
  // 4. GET
  size_t bytes = 0;
  for (; k < order.size(); ++k) {
    EntryRequest& e = entries[order[k]];
    if (opt.max_response_bytes && bytes > opt.max_response_bytes) return at_entry(e, response_budget_spent(opt));
    auto r = get(c, e, opt);
    if (!r) return at_entry(e, r.status());
    bytes += r->body.size();
    out.results[order[k]] = std::move(*r);
  }
  out.requests = std::move(entries);
  tally(out);
  return out;
}

BundleResult BundleProcessor::batch(std::vector<EntryRequest> entries, const BundleOptions& opt) {
  BundleResult out;
  out.type = "batch";
  out.results.resize(entries.size());
  std::map<std::string, std::string> refs;
  size_t bytes = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    EntryRequest& e = entries[i];
    if (opt.max_response_bytes && bytes > opt.max_response_bytes) {
      out.results[i].outcome = Outcome::failed;
      out.results[i].error = response_budget_spent(opt);
      continue;
    }
    Result<EntryResult> r = Status(Err::internal, "not run");
    std::map<std::string, std::string> attempt = refs;
    Status st = repo_.db().write([&](store::Conn& c) -> Status {
      r = execute(c, e, opt, &attempt);
      return r.ok() ? Status() : r.status();
    });
    if (!st && r.ok()) r = st;  // the commit itself failed
    if (r.ok()) {
      bytes += r->body.size();
      out.results[i] = std::move(*r);
      refs = std::move(attempt);
    } else {
      out.results[i].outcome = Outcome::failed;
      out.results[i].error = r.status();
    }
  }
  out.requests = std::move(entries);
  tally(out);
  return out;
}

Result<BundleResult> BundleProcessor::process(json::Value bundle, const BundleOptions& opt) {
  std::string type;
  auto entries = parse(std::move(bundle), opt, &type);
  if (!entries) return entries.status();
  if (type == "batch") return batch(std::move(*entries), opt);
  Result<BundleResult> out = Status(Err::internal, "not run");
  Status st = repo_.db().write([&](store::Conn& c) -> Status {
    out = transaction(c, std::move(*entries), opt);
    return out.ok() ? Status() : out.status();
  });
  if (!st) return st;
  return out;
}

}  // namespace ef::service