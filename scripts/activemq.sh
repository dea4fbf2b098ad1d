#!/usr/bin/env bash
# Starts and stops an ActiveMQ Classic broker for the activemq backend's
# tests, without systemd: Debian's activemq package (installed if missing),
# run as its own instance with conf, data and logs under one base directory.
#
#   scripts/activemq.sh start     install if needed, start with a fresh data
#                                 directory, wait until STOMP answers
#   scripts/activemq.sh stop      stop the broker start started
#   scripts/activemq.sh resume    start on the data the last run left (for
#                                 tests of what survives a broker restart)
#   scripts/activemq.sh restart   stop, then resume
#
# The broker listens for STOMP on 127.0.0.1:${ACTIVEMQ_STOMP_PORT:-61613}
# and nowhere else (no JMX, no OpenWire, no web console). Point the tests at
# it with
#
#   export EVENTBUS_TEST_ACTIVEMQ="activemq://127.0.0.1:61613"
#
# The base directory is ${ACTIVEMQ_BASE:-$TMPDIR/eventbus-activemq-PORT}.
set -euo pipefail
. "$(dirname "$0")/pidfile.sh"
src="$(cd "$(dirname "$0")/activemq" && pwd)"
port="${ACTIVEMQ_STOMP_PORT:-61613}"
base="${ACTIVEMQ_BASE:-${TMPDIR:-/tmp}/eventbus-activemq-$port}"
pidfile="$base/activemq.pid"
home=/usr/share/activemq

# ready: the STOMP connector answers a CONNECT with CONNECTED.
ready() {
	local reply
	reply=$(
		exec 2>/dev/null
		exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
		printf 'CONNECT\naccept-version:1.2\nhost:localhost\n\n\0' >&3
		timeout 2 head -c 9 <&3
	) || return 1
	[[ "$reply" == CONNECTED ]]
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

install() {
	if [[ -f "$home/bin/activemq.jar" ]]; then
		return
	fi
	log "installing Debian's activemq package"
	apt-get install -y activemq >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y activemq >/dev/null; }
}

# launch runs the broker on the data already in $base/data.
launch() {
	if running; then
		log "ActiveMQ already runs on 127.0.0.1:$port (pid $(cat "$pidfile"))"
		return
	fi
	if listening; then
		log "port $port is taken by another process: stop it or set ACTIVEMQ_STOMP_PORT"
		exit 1
	fi
	mkdir -p "$base/conf" "$base/data" "$base/tmp"
	cp "$src/activemq.xml" "$src/log4j.properties" "$base/conf/"
	java -Xmx256m \
		--add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED \
		--add-opens java.base/java.net=ALL-UNNAMED --add-opens java.base/java.security=ALL-UNNAMED \
		-Dactivemq.home="$home" -Dactivemq.base="$base" -Dactivemq.conf="$base/conf" \
		-Dactivemq.data="$base/data" -Djava.io.tmpdir="$base/tmp" -Dactivemq.classpath="$base/conf:" \
		-Dactivemq.stomp="127.0.0.1:$port" \
		-jar "$home/bin/activemq.jar" start "xbean:file:$base/conf/activemq.xml" \
		>"$base/console.log" 2>&1 &
	local pid=$!
	echo "$pid" >"$pidfile"
	# Poll STOMP for up to 60 s: the JVM starts in about 2 s on an idle
	# machine, much later on a loaded one.
	for _ in $(seq 600); do
		if ready; then
			log "ActiveMQ speaks STOMP on 127.0.0.1:$port (pid $pid, base $base)"
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$pidfile"
			log "ActiveMQ exited before it answered:"
			cat "$base/console.log" "$base/activemq.log" >&2 2>/dev/null || true
			exit 1
		fi
		sleep 0.1
	done
	log "ActiveMQ did not answer on 127.0.0.1:$port within 60 s; see $base/activemq.log"
	stop
	exit 1
}

stop() { stop_process ActiveMQ 30; }

case "${1:-}" in
start)
	install
	stop
	rm -rf "$base/data" # a fresh store: KahaDB keeps a lock and the last run's queues
	launch
	;;
stop) stop ;;
resume) launch ;;
restart)
	stop
	launch
	;;
*)
	echo "usage: $0 start|stop|resume|restart" >&2
	exit 2
	;;
esac
