#!/bin/sh
# `make bench`: runs every benchmark section; see tools/bench.py.
set -e
cd "$(dirname "$0")/.."
exec python3 tools/bench.py "$@"
