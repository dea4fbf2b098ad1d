#!/usr/bin/env bash
# Runs each fuzz target for a number of inputs (default 100000 each): no
# input may panic or hang the rule language's pattern parser and matcher,
# the ingress decoder (binary, structured and batch modes) or the config
# parser, and the STOMP frame reader of the activemq backend.
#   scripts/fuzz.sh [BUDGET]     BUDGET as for -fuzztime, e.g. 100000x or 30s
#
# The default is a count, not a duration: with Go 1.26 a duration can end a
# run with a spurious "context deadline exceeded" while a worker is still
# busy on a loaded machine (golang/go#75804). A real finding always writes
# its input under the package's testdata/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${1:-100000x}"
fuzz() { # package target
	# go test passes with a warning when no target matches: a moved target
	# must fail here, not go unfuzzed.
	local listed
	listed=$(go test -list "^$2\$" "$1")
	if ! grep -qx "$2" <<<"$listed"; then
		echo "fuzz: $1 has no fuzz target $2" >&2
		exit 1
	fi
	go test -run '^$' -fuzz "^$2\$" -fuzztime "$budget" "$1"
}
fuzz ./router FuzzValidate
fuzz ./router FuzzMatch
fuzz ./bus/httpapi FuzzDecodeRequest
fuzz ./bus FuzzParseConfig
fuzz ./adapters/activemq/stomp FuzzReadFrame
