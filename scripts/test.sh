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

# PostgreSQL: the machine runs it; start it if it stopped.
ensure_postgres() {
	if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
		return
	fi
	if command -v pg_ctlcluster >/dev/null; then
		log "starting PostgreSQL"
		pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
	fi
}

# Builds leave the checkout's path out of what they compile, so a clone in
# another folder reuses the build cache of the last one instead of
# compiling every package of the project again (the first run on a machine
# compiles everything; the next ones only what changed).
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath"

ensure_rabbitmq
ensure_postgres
export EVENTBUS_TEST_RABBIT="${EVENTBUS_TEST_RABBIT:-amqp://guest:guest@127.0.0.1:5672/}"
export EVENTBUS_TEST_POSTGRES="${EVENTBUS_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
# NATS with JetStream: the machine runs it (nats-server -js); the tests
# also start an embedded server of their own.
export EVENTBUS_TEST_NATS="${EVENTBUS_TEST_NATS:-nats://127.0.0.1:4222}"

# kcat: the Kafka interop test reads the bus's topics with it. (Kafka itself
# needs nothing: its tests start kfake in-process.)
command -v kcat >/dev/null || { log "installing kcat"; apt-get install -y kcat >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y kcat >/dev/null; }; }

# python3-zmq (libzmq, for Debian's /usr/bin/python3): the ZeroMQ interop
# tests subscribe to and publish for the bus with it.
/usr/bin/python3 -c 'import zmq' 2>/dev/null || { log "installing python3-zmq"; apt-get install -y python3-zmq >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y python3-zmq >/dev/null; }; }

# Chromium: the chat example's test drives its page in a real browser.
command -v chromium >/dev/null || { log "installing chromium"; apt-get install -y chromium chromium-driver >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y chromium chromium-driver >/dev/null; }; }

# standardwebhooks (npm, pinned in test/webhooks/): the receiver that checks
# the bus's signed deliveries with code that is not ours.
if [[ ! -f test/webhooks/node_modules/standardwebhooks/package.json ]]; then
	log "installing the standardwebhooks receiver (npm ci)"
	npm ci --prefix test/webhooks --no-audit --no-fund >/dev/null
fi

# What this script starts, it stops when it exits, whatever happens.
stops=()
stop_all() {
	local s
	for s in "${stops[@]}"; do
		$s || true
	done
}
trap stop_all EXIT

# SQS: fauxqs, an emulator (pinned in scripts/sqs-emulator/), unless the
# caller names an endpoint of its own.
if [[ -z "${EVENTBUS_TEST_SQS:-}" ]]; then
	scripts/sqs-emulator.sh start
	stops+=("scripts/sqs-emulator.sh stop")
	export EVENTBUS_TEST_SQS="sqs://127.0.0.1:4566?region=us-east-1"
fi

# ActiveMQ: Debian's broker, run by scripts/activemq.sh (which installs it),
# unless the caller names a broker of its own.
activemq_ours=
if [[ -z "${EVENTBUS_TEST_ACTIVEMQ:-}" ]]; then
	scripts/activemq.sh start
	stops+=("scripts/activemq.sh stop")
	activemq_ours=1
	export EVENTBUS_TEST_ACTIVEMQ="activemq://127.0.0.1:61613"
fi
# python3-stomp (stomp.py, for /usr/bin/python3): the ActiveMQ interop test
# reads the bus's topic with it.
/usr/bin/python3 -c 'import stomp' 2>/dev/null || { log "installing python3-stomp"; apt-get install -y python3-stomp >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y python3-stomp >/dev/null; }; }

log "go vet"
go vet ./...

log "go test -race"
go test -race -count=1 ./...

log "RabbitMQ restart tests (they restart the local broker, so they run alone)"
EVENTBUS_TEST_RABBIT_CTL=1 go test -race -count=1 -p 1 -run 'Conformance/Outage|BrokerRestart' ./adapters/rabbitmq ./bus

if [[ -n "$activemq_ours" ]]; then
	log "ActiveMQ restart test (it restarts the broker scripts/activemq.sh runs, so it runs alone)"
	EVENTBUS_TEST_ACTIVEMQ_CTL=1 go test -race -count=1 -run 'TestConformanceAcrossABrokerRestart' ./adapters/activemq
fi

log "replicas in network namespaces (it changes the host's network, so it runs alone)"
go test -tags netns -count=1 -v -run TestReplicasShareTheWorkAndSurviveEachOther ./test/replicas

log "Terraform provider: unit and acceptance tests against a real bus"
TF_BIN=$(scripts/terraform.sh)
(cd terraform && go vet ./... && TF_ACC=1 TF_ACC_TERRAFORM_PATH="$TF_BIN" go test -race -count=1 ./...)

log "short fuzz runs"
scripts/fuzz.sh

log "CloudEvents conformance"
scripts/conformance.sh
