#!/usr/bin/env bash
# The Flask chat as a fleet: two app.py processes, on PORT and PORT+1, sharing their rooms
# through one Redis (`SocketIO(app, message_queue=URL)`). A page on one port and a page on
# the other, in the same room, see each other's messages.
#   examples/flask_chat/fleet.sh            (make demo-flask-fleet does the same)
#   HOST, PORT     where the two chats listen (default 127.0.0.1, 5000: ports 5000 and 5001)
#   REDIS_URL      an existing Redis (redis://HOST:PORT/0); without it, a redis-server is
#                  started on a free loopback port and stopped at the end (nothing saved)
#   PYTHON         the python with ferrosocket and Flask (default: python3)
# Prints both URLs once both accept connections; Ctrl-C (or SIGTERM) stops the chats and
# the redis-server it started, by their pids.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-5000}"
PYTHON="${PYTHON:-python3}"
REDIS_URL="${REDIS_URL:-}"

LOG_TAG=fleet
. "$ROOT/tests/lib/env.sh"

work="$(mktemp -d "${TMPDIR:-/tmp}/flask-fleet.XXXXXX")"
pids=()
stop() {
  trap - EXIT INT TERM
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits (at most 30 s) until "$@" succeeds; fails when process $1 of the fleet died.
wait_until() { # what pid command...
  local what=$1 pid=$2 deadline=$((SECONDS + 30))
  shift 2
  until "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then log "$what exited"; return 1; fi
    if ((SECONDS >= deadline)); then log "$what: not ready after 30 s"; return 1; fi
    sleep 0.1
  done
}

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# 1. Redis: the one given, or a redis-server of our own.
if [[ -z "$REDIS_URL" ]]; then
  ensure_redis
  redis_port="$(free_port)"
  redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
    --dir "$work" --logfile "$work/redis.log" </dev/null &
  pids+=($!)
  wait_until "redis-server (log: $work/redis.log)" "${pids[0]}" \
    sh -c "redis-cli -h 127.0.0.1 -p $redis_port ping 2>/dev/null | grep -q PONG"
  REDIS_URL="redis://127.0.0.1:$redis_port/0"
  log "redis-server on 127.0.0.1:$redis_port (pid ${pids[0]})"
fi

# 2. The two chats, each printing LISTENING once it accepts connections.
for port in "$PORT" "$((PORT + 1))"; do
  "$PYTHON" "$HERE/app.py" --host "$HOST" --port "$port" --message-queue "$REDIS_URL" \
    >"$work/chat-$port.out" </dev/null &
  pid=$!
  pids+=("$pid")
  wait_until "the chat on $HOST:$port" "$pid" grep -q '^LISTENING ' "$work/chat-$port.out"
done

log "message queue $REDIS_URL"
echo "http://$HOST:$PORT/"
echo "http://$HOST:$((PORT + 1))/"
log "open one URL in one browser and the other in another, join the same room; Ctrl-C stops all"
# Until Ctrl-C, or until one of the processes ends (then the others are stopped too).
status=0
wait -n "${pids[@]}" || status=$?
log "a process of the fleet ended (status $status); stopping the others"
exit 1
