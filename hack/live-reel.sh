# Sourced by the checks that need a live server (check-api.sh, check-dashboard.sh):
#   live_reel WORK_DIR LOG REEL_ARGS…   starts `$reel REEL_ARGS…`, whose API address the caller gives as
# 127.0.0.1:0 (the kernel picks a port, so no other program can take it first), reads the port from the server's
# log, sets $port and $server, removes WORK_DIR and stops the server on exit, and returns once /readyz answers (or
# fails with the server's log if it exits first).
live_reel() {
    local work="$1" log="$2"
    shift 2
    port=""
    "$reel" "$@" >"$log" 2>&1 &
    server=$!
    # shellcheck disable=SC2064  # the values now, not at exit
    trap "kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf '$work'" EXIT
    for _ in $(seq 1 600); do
        port="$(sed -n 's|.*serving the API on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$log" | head -n 1)"
        [ -n "$port" ] && break
        kill -0 "$server" 2>/dev/null || { cat "$log" >&2; return 1; }
        sleep 0.1
    done
    [ -n "$port" ] || { echo "the server did not say where it listens: $log" >&2; return 1; }
    for _ in $(seq 1 300); do
        curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$server" 2>/dev/null || { cat "$log" >&2; return 1; }
        sleep 0.1
    done
    echo "the server did not become ready: $log" >&2
    return 1
}
