#!/usr/bin/env bash
# Starts and stops fauxqs, an SQS emulator, for the SQS backend's tests.
#
#   scripts/sqs-emulator.sh start   install it if needed, start it, wait until it answers
#   scripts/sqs-emulator.sh stop    stop the one start started
#
# Node 22 and fauxqs are pinned in sqs-emulator/package-lock.json and
# installed there with npm ci (the machine's own Node may be older). It
# listens on 127.0.0.1:${SQS_EMULATOR_PORT:-4566}; point the tests at it with
#
#   export EVENTBUS_TEST_SQS="sqs://127.0.0.1:4566?region=us-east-1"
set -euo pipefail
dir="$(cd "$(dirname "$0")/sqs-emulator" && pwd)"
. "$(dirname "$0")/pidfile.sh"
port="${SQS_EMULATOR_PORT:-4566}"
pidfile="$dir/.run/fauxqs-$port.pid"
logfile="$dir/.run/fauxqs-$port.log"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

install() {
	if [[ -x "$dir/node_modules/.bin/node" && -f "$dir/node_modules/fauxqs/dist/cli.js" ]]; then
		return
	fi
	log "installing fauxqs and Node 22 (npm ci)"
	npm ci --prefix "$dir" --no-audit --no-fund >&2
}

start() {
	if running; then
		log "fauxqs already runs on 127.0.0.1:$port (pid $(cat "$pidfile"))"
		return
	fi
	if listening; then
		log "port $port is taken by another process: stop it or set SQS_EMULATOR_PORT"
		exit 1
	fi
	install
	mkdir -p "$dir/.run"
	FAUXQS_PORT="$port" "$dir/node_modules/.bin/node" "$dir/node_modules/fauxqs/dist/cli.js" >"$logfile" 2>&1 &
	local pid=$!
	echo "$pid" >"$pidfile"
	# Poll for the port, for up to 30 s.
	for _ in $(seq 300); do
		if listening; then
			log "fauxqs listens on 127.0.0.1:$port (pid $pid, log $logfile)"
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$pidfile"
			log "fauxqs exited before it listened:"
			cat "$logfile" >&2
			exit 1
		fi
		sleep 0.1
	done
	log "fauxqs did not listen on 127.0.0.1:$port within 30 s; see $logfile"
	stop
	exit 1
}

stop() { stop_process fauxqs 10; }

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
