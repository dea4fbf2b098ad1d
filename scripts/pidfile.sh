# Shared by the scripts that run a test service in the background
# (scripts/activemq.sh, scripts/sqs-emulator.sh): source it, then set
# pidfile before calling these.

log() { printf '==> %s\n' "$*" >&2; }

# running: the process of $pidfile is alive.
running() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

# stop_process NAME SECONDS: stops the process of $pidfile, politely, then
# by force after SECONDS, and removes $pidfile.
stop_process() {
	local name=$1 seconds=$2 pid
	if ! running; then
		rm -f "$pidfile"
		return
	fi
	pid="$(cat "$pidfile")"
	kill "$pid"
	for _ in $(seq $((seconds * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$pidfile"
	log "$name stopped"
}
