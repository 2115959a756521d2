-- wrk script for the `writes` benchmark section (tools/bench_writes.py): small
-- POST /Observation creates, Prefer: return=minimal, every body different (value, date,
-- subject), so each request is a real new resource with its own index rows.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.headers["Prefer"] = "return=minimal"
local n = 0
local tid = 0
setup = function(thread)
  tid = tid + 1
  thread:set("tid", tid)
end
request = function()
  n = n + 1
  local body = string.format(
    '{"resourceType":"Observation","status":"final",' ..
    '"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},' ..
    '"subject":{"reference":"Patient/bench-%d"},"effectiveDateTime":"2024-%02d-%02dT10:%02d:00Z",' ..
    '"valueQuantity":{"value":%d,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}',
    (n * 7 + (tid or 0)) % 500, n % 12 + 1, n % 28 + 1, n % 60, 50 + n % 70)
  return wrk.format(nil, "/Observation", nil, body)
end
