// http/sync_observe.h — what sync contributes to the server's observability: the "sync:queue"
// check of GET /health (application/health+json; "warn" keeps HTTP 200) and the
// edgefhir_sync_* metrics of GET /metrics.  Both read Pusher::status(), which is cached
// for a second, so scraping is cheap.
//   edgefhir_sync_queue_length                      gauge    changes not yet acknowledged
//   edgefhir_sync_oldest_unsent_age_seconds         gauge    age of the oldest of them (0 when empty)
//   edgefhir_sync_last_success_timestamp_seconds    gauge    Unix time of the last successful push (0 never)
//   edgefhir_sync_consecutive_failures              gauge    failed attempts since the last success
//   edgefhir_sync_over_cap                          gauge    1 when the queue is above max_queue
//   edgefhir_sync_pushed_total                      counter  changes acknowledged since sync was enabled
//   edgefhir_sync_conflicts_total                   counter  conflicts recorded
//   edgefhir_sync_rejected_total                    counter  changes the upstream refused
//   edgefhir_sync_conflicts_pending                 gauge    manual conflicts waiting for `sync resolve`
// and for the pull side (sync/puller.h), summed over the pull searches:
//   edgefhir_sync_pull_received_total               counter  upstream versions written locally
//   edgefhir_sync_pull_deleted_total                counter  upstream deletions applied
//   edgefhir_sync_pull_failing                      gauge    pull searches whose last run failed
//   edgefhir_sync_pull_oldest_success_age_seconds   gauge    age of the stalest last success (since
//                                                            configuration when never)
#pragma once
#include <memory>

#include "http/metrics.h"
#include "sync/puller.h"
#include "sync/pusher.h"
#include "util/json.h"

namespace ef::sync {

// One entry of /health "checks" (the caller puts it under "sync:queue" in an array).
json::Value health_check(const SyncStatus& s, int64_t now_ms);
Status register_metrics(http::Metrics& m, std::shared_ptr<Pusher> pusher, const Clock& clock);
json::Value pull_health_check(const PullQueryStatus& q, int64_t now_ms);
Status register_pull_metrics(http::Metrics& m, std::shared_ptr<Puller> puller, const Clock& clock);

}  // namespace ef::sync
