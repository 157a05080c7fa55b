# Sourced by the benchmark scripts that drive one release server through its public API.
#
#   start_server BINARY PORT [serve options…]   starts `BINARY serve` on PORT with a temporary data directory
#                                               (removed on exit), sets SERVER_PID, waits until /ready answers
#   wait_applied PORT                           waits until the processor has applied every acknowledged event

start_server() {
    local binary=$1 port=$2
    shift 2
    SERVER_DATA=$(mktemp -d /tmp/starling-bench.XXXXXX)
    "$binary" serve --port "$port" --data-dir "$SERVER_DATA" "$@" >/dev/null 2>&1 &
    SERVER_PID=$!
    trap 'kill $SERVER_PID 2>/dev/null; wait $SERVER_PID 2>/dev/null; rm -rf "$SERVER_DATA"' EXIT
    until curl -sf "localhost:$port/ready" >/dev/null; do
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server on port $port exited" >&2; exit 1; }
        sleep 0.1
    done
}

wait_applied() {
    until curl -s "localhost:$1/metrics" | grep -q '^starling_processor_lag_records 0'; do sleep 0.2; done
}
