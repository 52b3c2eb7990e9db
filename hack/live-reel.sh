# Sourced by the checks that need a live server (check-api.sh, check-dashboard.sh):
#   live_reel WORK_DIR LOG REEL_ARGS…   starts `$reel REEL_ARGS…` on a free port (the word PORT in REEL_ARGS is
# replaced by it), sets $port and $server, removes WORK_DIR and stops the server on exit, and returns once
# /readyz answers (or fails with the server's log if it exits first).
live_reel() {
    local work="$1" log="$2"
    shift 2
    port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "$reel" "${@//PORT/$port}" >"$log" 2>&1 &
    server=$!
    # shellcheck disable=SC2064  # the values now, not at exit
    trap "kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf '$work'" EXIT
    for _ in $(seq 1 300); do
        curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$server" 2>/dev/null || { cat "$log" >&2; return 1; }
        sleep 0.1
    done
    echo "the server did not become ready: $log" >&2
    return 1
}
