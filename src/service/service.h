// service/service.h — the interaction layer's front door: every FHIR interaction on resource
// data, for every caller (HTTP, CLI, sync), with the caller's Access as an argument it cannot
// omit.  HTTP handlers parse a request into these calls and format what comes back; they
// never reach store/ for resource data.
//
//   read / vread / history        service/reads.h inside a read transaction
//   search (type, system,         service/reads.h: the caller's view is in the SQL, so totals,
//   compartment, _search)         paging, _include/_revinclude, chains and _has are right
//   create / update / patch /     one EntryRequest through BundleProcessor::execute inside one
//   delete and their conditional  write transaction: the same code as a Bundle entry, so a
//   forms                         direct request and an entry cannot be judged differently;
//                                 a plain create is first offered to
//                                 BundleProcessor::prepare_create (the same checks, run before
//                                 it queues for the writer; the writer only stores it), and
//                                 takes the general path whenever that declines
//   transaction / batch           BundleProcessor::process
//   $everything                   service/everything.cpp
//   $meta                         instance / version: read / vread, then the version's meta;
//                                 type / system: store::meta_codes inside the caller's search
//                                 view (codes used only outside it are never seen)
//   $meta-add / $meta-delete      a PATCH EntryRequest with meta_op (the write path of patch)
//   terminology operations        service/terminology.h (terminology()); a committed write of a
//                                 CodeSystem, ValueSet or ConceptMap bumps its cache generation
//
// The Service is built once at start-up and shared by all threads (it holds no per-request
// state; the Access is per request).
#pragma once
#include <memory>
#include <string>

#include "fhir/search_query.h"
#include "service/access.h"
#include "service/bundle_processor.h"
#include "service/reads.h"
#include "service/repository.h"
#include "store/db.h"
#include "store/search.h"

namespace ef::service {

class Terminology;

class Service {
 public:
  Service(store::Database& db, Repository& repo, std::string base_url);
  ~Service();

  Result<store::Version> read(const Access& a, const std::string& type, const std::string& id);
  Result<store::Version> vread(const Access& a, const std::string& type, const std::string& id, int64_t version);
  Result<HistoryPage> history(const Access& a, const store::HistoryQuery& q);
  Result<SearchResult> search(const Access& a, auth::Interaction i, const fhir::SearchQuery& q,
                              const store::SearchRunOptions& ro = {});
  // One interaction as an entry (a write opens a write transaction; GET a read one).
  Result<EntryResult> execute(EntryRequest& e, const BundleOptions& opt);
  Result<BundleResult> bundle(json::Value bundle, const BundleOptions& opt);

  // Patient/[id]/$everything and Patient/$everything (service/everything.cpp).
  struct EverythingQuery {
    std::string patient_id;                  // "" = type level
    std::vector<std::string> match_types;    // compartment types (incl. Patient)
    std::vector<std::string> support_types;  // allowed supporting types when !all_support
    bool all_support = true;
    int64_t since_ms = -1;
    std::string since_text;
    int count = 50;
    std::string cursor;
  };
  struct EverythingPage {
    std::vector<store::SearchRow> matches, included;
    int64_t total = -1;
    std::string next_cursor;
    bool truncated = false;
  };
  Result<EverythingPage> everything(const Access& a, const EverythingQuery& q);

  // $meta of the current version (version 0) or of one version: its meta, as read would show it.
  Result<json::Value> meta(const Access& a, const std::string& type, const std::string& id, int64_t version);
  // $meta at type ("" = system) level: profiles, tags and security labels of the current
  // resources the caller may search (search-type view of each type), at most `limit` of each.
  Result<store::MetaCodes> meta_summary(const Access& a, const std::string& type, size_t limit);

  MatchResolver resolver() const;
  BundleProcessor processor() { return BundleProcessor(repo_, resolver()); }
  Repository& repository() { return repo_; }
  const std::string& base_url() const { return base_url_; }
  // $expand, $validate-code, $lookup, $subsumes, $translate and the code sets of the token
  // modifiers :in / :not-in / :above / :below (service/terminology.h).
  Terminology& terminology() { return *term_; }
  store::Database& database() { return db_; }

 private:
  store::Database& db_;
  Repository& repo_;
  std::string base_url_;
  std::unique_ptr<Terminology> term_;
};

}  // namespace ef::service
