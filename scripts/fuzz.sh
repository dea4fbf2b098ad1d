#!/usr/bin/env bash
# Runs each fuzz target of the rule language for a while (default 10s each):
# no input may panic or hang the pattern parser or the matcher.
#   scripts/fuzz.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10s}"
for target in FuzzValidate FuzzMatch; do
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" ./router
done
