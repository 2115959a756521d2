// version.h — the release version, shown by `edgefhir --version`, the CapabilityStatement,
// /metrics (edgefhir_build_info) and the User-Agent of outgoing requests.
#pragma once

#define EDGEFHIR_VERSION "0.2.0"
