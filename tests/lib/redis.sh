# redis.sh: a private redis-server for script tests. Source it after
# common.sh:
#
#   . "$SRCDIR/tests/lib/common.sh"
#   . "$SRCDIR/tests/lib/redis.sh"
#   need_redis                      # skips (77) without redis-server
#   start_redis [ARGS...]           # REDIS_PORT, REDIS_SOCK, REDIS_PID, REDIS_LOG;
#                                   # ARGS go to redis-server (--requirepass x)
#   redis_cmd PING                  # redis-cli on the unix socket (REDIS_PASS if set)
#   stop_redis                      # by PID; start_redis again comes back
#                                   # on the same port and socket
#
# The server listens on 127.0.0.1 only, at a port reserved with
# common.sh's free_port, and on a unix socket in $T/redis; it keeps
# nothing on disk (no RDB snapshots, no AOF) and is stopped by PID.

REDIS_DIR="$T/redis"
REDIS_PORT=""
REDIS_PID=""
REDIS_PASS=""

need_redis() {
    need_cmd redis-server
    need_cmd redis-cli
}

redis_cmd() {
    if [ -n "$REDIS_PASS" ]; then
        REDISCLI_AUTH="$REDIS_PASS" redis-cli -s "$REDIS_SOCK" "$@"
    else
        redis-cli -s "$REDIS_SOCK" "$@"
    fi
}

redis_up() { redis_cmd PING 2>/dev/null | grep -q PONG; }

start_redis() {
    mkdir -p "$REDIS_DIR"
    [ -n "$REDIS_PORT" ] || REDIS_PORT=$(free_port) || return 1
    REDIS_SOCK="$REDIS_DIR/redis.sock"
    REDIS_LOG="$REDIS_DIR/redis.log"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$REDIS_DIR" --unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
        --daemonize no --logfile "$REDIS_LOG" "$@" >>"$REDIS_LOG" 2>&1 </dev/null &
    REDIS_PID=$!
    track_pid "$REDIS_PID"
    if ! wait_for 10 redis_up; then
        echo "# redis-server did not start; its log:"; sed 's/^/#   /' "$REDIS_LOG"
        return 1
    fi
}

stop_redis() {
    [ -n "$REDIS_PID" ] || return 0
    kill -TERM "$REDIS_PID" 2>/dev/null || true
    wait_for 10 pid_gone "$REDIS_PID" && untrack_pid "$REDIS_PID"
    REDIS_PID=""
}
