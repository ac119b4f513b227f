#!/usr/bin/env bash
# The HTTP API's throughput and latency with wrk (docs/PERFORMANCE.md, "HTTP API"):
#   - the baseline measured in the same run: GET /health/live, the cheapest route (the server's
#     ceiling on this machine);
#   - a cached quote: GET /v1/quotes/S0000;
#   - a cached batch of 50 quotes: GET /v1/quotes?symbols=S0000,…,S0049 (batch.lua).
# The release finstage-api runs on a fresh SQLite database in a temporary directory, with a mock
# Yahoo (`finstage-wsload yahoo`) serving 50 synthetic symbols as its provider. Per-client-IP rate
# limit OFF (wrk is one client IP), upstream rate limit raised, quotes cached for an hour (every
# measured request is a cache hit; the cache is filled before measuring), embedded jobs off.
#
# Usage: tools/http-bench/bench.sh
# Environment: DURATION (30s), RUNS (2), THREADS (2), CONNECTIONS (64), SYMBOLS (50),
#   WARMUP (5s), PORT (18080), NO_BUILD=1 (use the binaries already built), OUT (a directory for
#   the raw wrk outputs; a temporary one by default).
set -euo pipefail
# shellcheck source=tools/http-bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DURATION="${DURATION:-30s}"
RUNS="${RUNS:-2}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
SYMBOLS="${SYMBOLS:-50}"
WARMUP="${WARMUP:-5s}"
PORT="${PORT:-18080}"

command -v wrk >/dev/null || die "wrk is missing (apt-get install -y wrk)"
command -v curl >/dev/null || die "curl is missing"
build_release finstage-api finstage-wsload
[[ -x "$API_BIN" && -x "$WSLOAD_BIN" ]] || die "no release binaries in $TARGET_DIR/release"
port_free "$PORT" || die "127.0.0.1:$PORT is taken (set PORT)"

work="$(mktemp -d -t finstage-http-bench.XXXXXX)"
OUT="${OUT:-$work/out}"
mkdir -p "$OUT"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do stop "$pid"; done
    rm -rf "$work/db"
}
trap cleanup EXIT

# The mock Yahoo, for longer than the whole run.
"$WSLOAD_BIN" yahoo --symbols "$SYMBOLS" --duration 3600 --url-file "$work/yahoo.url" > "$work/yahoo.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [[ -s "$work/yahoo.url" ]] && break; sleep 0.1; done
[[ -s "$work/yahoo.url" ]] || die "the mock Yahoo did not start: $(cat "$work/yahoo.log")"
yahoo_url="$(head -1 "$work/yahoo.url")"

list="$(for ((i = 0; i < SYMBOLS; i++)); do printf 'S%04d,' "$i"; done)"
list="${list%,}"
mkdir -p "$work/db"
(
    cd "$work"
    export FINSTAGE_DATABASE_URL="sqlite://$work/db/finstage.db"
    export FINSTAGE_HTTP_ADDR="127.0.0.1:$PORT"
    export FINSTAGE_PROVIDER=yahoo
    export FINSTAGE_YAHOO_BASE_URL="$yahoo_url"
    export FINSTAGE_WATCHLIST="$list"
    export FINSTAGE_API__RATE_LIMIT__PER_SECOND=0
    export FINSTAGE_PROVIDER__RATE_LIMIT__PER_SECOND=1000
    export FINSTAGE_PROVIDER__RATE_LIMIT__BURST=100
    export FINSTAGE_PROVIDER__CACHE_TTL__QUOTE=1h
    export FINSTAGE_EMBEDDED_JOBS=false
    export FINSTAGE_LOG=warn
    exec "$API_BIN"
) > "$work/api.log" 2>&1 &
api=$!
pids+=("$api")
base="http://127.0.0.1:$PORT"
wait_ready "$base/health/ready" "$api" || die "finstage-api did not get ready: $(tail -5 "$work/api.log")"

# Fill the cache: one batch fetches every symbol once.
curl -sf "$base/v1/quotes?symbols=$list" -o /dev/null || die "the batch quote failed"
curl -sf "$base/v1/quotes/S0000" -o /dev/null || die "the quote failed"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# measure NAME [wrk options…] URL [-- script args…]: one wrk run, raw output in $OUT/NAME.txt.
measure() {
    local name="$1"
    shift
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" > "$OUT/$name.txt" 2>&1
    if grep -qE 'Non-2xx|Socket errors' "$OUT/$name.txt"; then
        log "warning: $name had errors:"
        grep -E 'Non-2xx|Socket errors' "$OUT/$name.txt" >&2
    fi
}
# row NAME: a table row from a wrk output.
row() {
    awk -v name="$1" '
        /Requests\/sec:/ {rps = $2}
        /^ +Latency / && !max {max = $4}
        /^ +50%/ {p50 = $2} /^ +90%/ {p90 = $2} /^ +99%/ {p99 = $2}
        /requests in/ {n = $1}
        /Non-2xx/ {bad = $5}
        END {printf "| %s | %.0f | %s | %s | %s | %s | %s | %s |\n", name, rps, p50, p90, p99, max, n, bad ? bad : 0}
    ' "$OUT/$1.txt"
}

log "finstage-api $(build_id), wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, $(date -u +%FT%TZ)"
log "warming up ($WARMUP each)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$base/health/live" > /dev/null
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$base/v1/quotes/S0000" > /dev/null
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$script_dir/batch.lua" "$base" -- "$SYMBOLS" > /dev/null

# Other work on the machine skews the figures: say how busy it was.
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for ((run = 1; run <= RUNS; run++)); do
    log "run $run of $RUNS"
    measure "run$run-health-live" "$base/health/live"
    measure "run$run-quote" "$base/v1/quotes/S0000"
    measure "run$run-batch$SYMBOLS" -s "$script_dir/batch.lua" "$base" -- "$SYMBOLS"
done

echo "finstage-api $(build_id); $(date -u +%F); wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency"
echo "load average before the runs: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| run / route | req/s | p50 | p90 | p99 | max | requests | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for ((run = 1; run <= RUNS; run++)); do
    row "run$run-health-live"
    row "run$run-quote"
    row "run$run-batch$SYMBOLS"
done
echo "server after the runs: $(memory "$api")"
echo "raw wrk outputs: $OUT"
