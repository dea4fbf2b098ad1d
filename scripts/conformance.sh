#!/usr/bin/env bash
# CloudEvents conformance check: the CloudEvents project's own conformance
# tool (cloudevents invoke, pinned below) sends every sample event of
# test/conformance/testdata/ to a running bus over HTTP, in binary and
# structured mode; each must be answered 2xx. Every sample under refused/
# breaks a rule of the spec and must NOT be answered 2xx, which shows the
# check can fail.
#
# Usage: scripts/conformance.sh    (from anywhere; needs go and curl)
set -euo pipefail

TOOL_VERSION=v0.4.1
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"                  # gitignored
testdir="$root/test/conformance"

# Install the tool into .tools/bin from a scratch module of its own, so its
# dependencies never touch the project's go.mod.
scratch="$tools/cloudevents-conformance"
mkdir -p "$scratch" "$tools/bin"
(
	cd "$scratch"
	export GOWORK=off GOFLAGS=-mod=mod
	[ -f go.mod ] || go mod init eventbus.local/tools/conformance >/dev/null 2>&1
	go get "github.com/cloudevents/conformance/cmd/cloudevents@$TOOL_VERSION"
	GOBIN="$tools/bin" go install github.com/cloudevents/conformance/cmd/cloudevents
)
cloudevents="$tools/bin/cloudevents"

work=$(mktemp -d)
bus_pid=""
cleanup() {
	if [ -n "$bus_pid" ]; then
		kill "$bus_pid" 2>/dev/null || true
		wait "$bus_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# Build first and run the binary itself, so that the process we stop at the
# end is the bus (go run would leave it behind its own process).
(cd "$root" && go build -o "$work/eventbus" ./cmd/eventbus)
"$work/eventbus" serve --config "$testdir/eventbus.yaml" --addr 127.0.0.1:0 >"$work/bus.out" 2>"$work/bus.err" &
bus_pid=$!

# The bus picks a free port and names it on its first line.
addr=""
for _ in $(seq 300); do
	addr=$(sed -n 's|^eventbus listening on http://\([^ ]*\).*|\1|p' "$work/bus.out")
	[ -n "$addr" ] && break
	kill -0 "$bus_pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$addr" ]; then
	echo "conformance: the bus did not start:" >&2
	cat "$work/bus.err" >&2
	exit 1
fi
for i in $(seq 300); do
	curl -fsS "http://$addr/healthz" >/dev/null 2>&1 && break
	if ! kill -0 "$bus_pid" 2>/dev/null || [ "$i" -eq 300 ]; then
		echo "conformance: the bus at $addr never answered /healthz:" >&2
		cat "$work/bus.err" >&2
		exit 1
	fi
	sleep 0.1
done

failed=0
passed=0
for f in "$testdir"/testdata/*.yaml; do
	name=${f#"$root/"}
	if "$cloudevents" invoke "http://$addr/events" -f "$f" 2>"$work/invoke.err"; then
		echo "ok    $name: every event answered 2xx"
		passed=$((passed + 1))
	else
		echo "FAIL  $name: the bus refused an event it must accept:" >&2
		cat "$work/invoke.err" >&2
		failed=$((failed + 1))
	fi
done
for f in "$testdir"/testdata/refused/*.yaml; do
	name=${f#"$root/"}
	if "$cloudevents" invoke "http://$addr/events" -f "$f" 2>"$work/invoke.err"; then
		echo "FAIL  $name: the bus answered 2xx to an event that breaks the spec" >&2
		failed=$((failed + 1))
	else
		echo "ok    $name: refused ($(grep -o 'got [0-9]\{3\}[^"]*' "$work/invoke.err" | head -1))"
		passed=$((passed + 1))
	fi
done

echo "conformance tool $TOOL_VERSION, bus at $addr"
echo "conformance: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
