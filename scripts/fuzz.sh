#!/usr/bin/env bash
# Runs each fuzz target of the rule language for a number of inputs
# (default 100000 each): no input may panic or hang the pattern parser or
# the matcher.
#   scripts/fuzz.sh [BUDGET]     BUDGET as for -fuzztime, e.g. 100000x or 30s
#
# The default is a count, not a duration: with Go 1.26 a duration can end a
# run with a spurious "context deadline exceeded" while a worker is still
# busy on a loaded machine (golang/go#75804). A real finding always writes
# its input under router/testdata/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${1:-100000x}"
for target in FuzzValidate FuzzMatch; do
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" ./router
done
