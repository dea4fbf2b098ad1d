#!/usr/bin/env bash
# Runs every eventbus test, starting first whatever the tests need.
#
# Backends the tests use are named by environment variables (see
# docs/testing.md). Under CI=true a test whose backend is missing fails; on a
# laptop it skips. This script points them at the local services it makes
# sure are running.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*"; }

# RabbitMQ: the machine runs it; start it if it stopped.
ensure_rabbitmq() {
	if (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
		return
	fi
	if command -v rabbitmq-server >/dev/null; then
		log "starting RabbitMQ"
		rabbitmq-server -detached
		rabbitmqctl await_startup
	fi
}

ensure_rabbitmq
export EVENTBUS_TEST_RABBIT="${EVENTBUS_TEST_RABBIT:-amqp://guest:guest@127.0.0.1:5672/}"

log "go vet"
go vet ./...

log "go test -race"
go test -race -count=1 ./...

log "short fuzz runs"
scripts/fuzz.sh 10s

log "CloudEvents conformance"
scripts/conformance.sh
