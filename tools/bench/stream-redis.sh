#!/usr/bin/env bash
# Tick → WebSocket client across processes through Redis (docs/PERFORMANCE.md, "`finstage-api`:
# the live stream", "Across processes through Redis"). Three configurations, the same clients:
#   inproc  the baseline: `finstage-wsload serve`, the API's StreamHub behind a minimal actix
#           server, its ticker publishing on the in-process bus: one process;
#   redis   `finstage-wsload serve --redis … --publish false` (the same hub on a Redis bus) fed by
#           `finstage-wsload publish` in a second process: Redis' cost without the API's;
#   api     the real release `finstage-api` (Redis bus and cache, SQLite in a fresh temporary
#           directory, embedded jobs off, per-client-IP rate limit off, log at warn) fed by
#           `finstage-wsload publish` in a second process.
# In every case the clients are `finstage-wsload run` in a third process; latency runs from the
# `published_at` the publisher stamps on each event just before publishing it to its arrival at
# a client. The publishers send one quote of each of SYMBOLS symbols a second, as one burst
# (slices 1) or in N batches spread over the second (slices N). Each round runs every (clients,
# slices) pair through the configurations in turn, so every figure has its baseline measured
# minutes apart; ROUNDS (2) rounds interleave them again.
#
# Usage: tools/bench/stream-redis.sh
# Environment: CLIENTS ("100 1000"; "100 1000 10000" to add the big one), CHANNELS (10),
#   SYMBOLS (500), SLICES ("1 10"), CONFIGS ("inproc redis api"), ROUNDS (2), DURATION (20,
#   seconds measured per run), RAMP (500 handshakes at a time), REDIS (redis://127.0.0.1:6379),
#   PORT (19300), NO_BUILD=1 (use the binaries already built), API_BIN, WSLOAD_BIN (other
#   binaries), OUT (a directory for the raw outputs; a temporary one by default).
set -euo pipefail
# shellcheck source=tools/http-bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../http-bench/common.sh"

CLIENTS="${CLIENTS:-100 1000}"
CHANNELS="${CHANNELS:-10}"
SYMBOLS="${SYMBOLS:-500}"
SLICES="${SLICES:-1 10}"
CONFIGS="${CONFIGS:-inproc redis api}"
ROUNDS="${ROUNDS:-2}"
DURATION="${DURATION:-20}"
RAMP="${RAMP:-500}"
REDIS="${REDIS:-redis://127.0.0.1:6379}"
PORT="${PORT:-19300}"

command -v curl >/dev/null || die "curl is missing"
command -v redis-cli >/dev/null || die "redis-cli is missing (apt-get install -y redis-tools)"
build_release finstage-api finstage-wsload
[[ -x "$API_BIN" && -x "$WSLOAD_BIN" ]] || die "no release binaries in $TARGET_DIR/release"
port_free "$PORT" || die "127.0.0.1:$PORT is taken (set PORT)"
redis_host="${REDIS#redis://}"
redis_host="${redis_host%%/*}"
redis_pid="$(redis-cli -h "${redis_host%:*}" -p "${redis_host##*:}" info server | tr -d '\r' | sed -n 's/^process_id://p')"
[[ -n "$redis_pid" ]] || die "no Redis at $REDIS"

work="$(mktemp -d -t finstage-stream-redis.XXXXXX)"
OUT="${OUT:-$work/out}"
mkdir -p "$OUT"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do stop "$pid"; done
    rm -rf "$work"/api-*
}
trap cleanup EXIT

# cpu_ticks PID…: the user+system clock ticks each process has used so far ("-" once gone).
cpu_ticks() {
    local pid
    for pid in "$@"; do
        if [[ -r "/proc/$pid/stat" ]]; then
            sed 's/.*) //' "/proc/$pid/stat" | awk '{printf "%d ", $12 + $13}'
        else
            printf -- '- '
        fi
    done
}
hz="$(getconf CLK_TCK)"

# wait_port PID: waits until 127.0.0.1:$PORT accepts connections, while PID lives.
wait_port() {
    for _ in $(seq 1 300); do
        kill -0 "$1" 2>/dev/null || return 1
        port_free "$PORT" || return 0
        sleep 0.1
    done
    return 1
}

# measure ROUND CONFIG CLIENTS SLICES: one run; its table row is appended to $OUT/rows.md.
measure() {
    local round="$1" config="$2" clients="$3" slices="$4"
    local name="r$round-$config-c$clients-s$slices"
    local namespace="finstage-bench-$$-$name"
    local lifetime=$((DURATION + 180)) server publisher=""
    log "$name: load average $(cut -d' ' -f1-3 /proc/loadavg)"
    case "$config" in
    inproc)
        "$WSLOAD_BIN" serve --addr "127.0.0.1:$PORT" --symbols "$SYMBOLS" --slices "$slices" \
            --duration "$lifetime" > "$OUT/$name.server.log" 2>&1 &
        server=$!
        ;;
    redis)
        "$WSLOAD_BIN" serve --addr "127.0.0.1:$PORT" --redis "$REDIS" --namespace "$namespace" \
            --publish false --duration "$lifetime" > "$OUT/$name.server.log" 2>&1 &
        server=$!
        ;;
    api)
        mkdir -p "$work/api-$name"
        (
            cd "$work/api-$name"
            export FINSTAGE_HTTP_ADDR="127.0.0.1:$PORT"
            export FINSTAGE_REDIS_URL="$REDIS"
            export FINSTAGE_CACHE__REDIS__NAMESPACE="$namespace"
            export FINSTAGE_EMBEDDED_JOBS=false
            export FINSTAGE_API__RATE_LIMIT__PER_SECOND=0
            export FINSTAGE_LOG=warn
            exec "$API_BIN"
        ) > "$OUT/$name.server.log" 2>&1 &
        server=$!
        ;;
    *) die "unknown configuration $config" ;;
    esac
    pids+=("$server")
    if [[ "$config" == api ]]; then
        wait_ready "http://127.0.0.1:$PORT/health/ready" "$server" ||
            die "finstage-api did not get ready: $(tail -5 "$OUT/$name.server.log")"
    else
        wait_port "$server" || die "$config did not start: $(tail -5 "$OUT/$name.server.log")"
    fi
    if [[ "$config" != inproc ]]; then
        "$WSLOAD_BIN" publish --redis "$REDIS" --namespace "$namespace" --symbols "$SYMBOLS" \
            --slices "$slices" --duration "$lifetime" > "$OUT/$name.publish.log" 2>&1 &
        publisher=$!
        pids+=("$publisher")
    fi
    "$WSLOAD_BIN" run --url "ws://127.0.0.1:$PORT/v1/stream" --connections "$clients" \
        --channels "$CHANNELS" --symbols "$SYMBOLS" --duration "$DURATION" --ramp "$RAMP" \
        > "$OUT/$name.run.log" 2>&1 &
    local loader=$!
    # CPU of each process over the measured seconds (from the loader's "measuring" line).
    for _ in $(seq 1 1200); do
        grep -q 'measuring for' "$OUT/$name.run.log" && break
        kill -0 "$loader" 2>/dev/null || break
        sleep 0.1
    done
    local load t0 t1 before after
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    t0="$(date +%s.%N)"
    before="$(cpu_ticks "$server" "${publisher:-0}" "$redis_pid" "$loader")"
    sleep $((DURATION - 1))
    after="$(cpu_ticks "$server" "${publisher:-0}" "$redis_pid" "$loader")"
    t1="$(date +%s.%N)"
    local rss  # with the clients connected
    rss="$(awk '/^VmRSS:/ {printf "%.1f MiB", $2 / 1024}' "/proc/$server/status")"
    wait "$loader" || log "warning: the loader of $name failed: $(tail -3 "$OUT/$name.run.log")"
    [[ -n "$publisher" ]] && stop "$publisher"
    stop "$server"
    rm -rf "$work/api-$name"
    local cpu
    cpu="$(awk -v b="$before" -v a="$after" -v s="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" -v hz="$hz" 'BEGIN {
        n = split(b, x, " "); split(a, y, " "); out = ""
        for (i = 1; i <= n; i++) {
            v = (x[i] == "-" || y[i] == "-") ? "-" : sprintf("%.1f", 100 * (y[i] - x[i]) / hz / s)
            out = out (i > 1 ? " / " : "") v
        }
        print out
    }')"
    [[ -z "$publisher" ]] && cpu="$(awk -F' / ' '{print $1 " / – / " $3 " / " $4}' <<< "$cpu")"
    awk -v round="$round" -v config="$config" -v clients="$clients" -v channels="$CHANNELS" \
        -v slices="$slices" -v loadavg="$load" -v rss="$rss" -v cpu="$cpu" '
        /connections subscribed/ {sub_ = $1 "/" $3 " in " $(NF - 4) " s"}
        /events received/ {
            for (i = 1; i <= NF; i++) {
                if ($i == "p50") p50 = $(i + 1); if ($i == "p90") p90 = $(i + 1)
                if ($i == "p99") p99 = $(i + 1); if ($i == "max") max = $(i + 1)
                if ($i == "gaps") gaps = $(i + 1); if ($i == "conflated") conf = $(i + 1)
                if ($i == "errors") err = $(i + 1)
            }
            rate = $4; gsub(/[(\/s)]/, "", rate); gsub(/[;,]/, "", max); gsub(/,/, "", gaps); gsub(/,/, "", conf)
        }
        END {
            printf "| %s | %s × %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s | %s | %s | %s |\n",
                round, clients, channels, slices, config, sub_, p50, p90, p99, max, rate, gaps, conf, err, rss, cpu, loadavg
        }' "$OUT/$name.run.log" >> "$OUT/rows.md"
    tail -1 "$OUT/rows.md" >&2
}

# The binaries' identity when the run starts (the checkout may move during a long run).
binaries="$(build_id)"
log "finstage-api $binaries, $(date -u +%FT%TZ)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
: > "$OUT/rows.md"
for ((round = 1; round <= ROUNDS; round++)); do
    for clients in $CLIENTS; do
        for slices in $SLICES; do
            for config in $CONFIGS; do
                measure "$round" "$config" "$clients" "$slices"
            done
        done
    done
done

echo "finstage-api $binaries; finstage-wsload $WSLOAD_BIN; $(date -u +%F)"
echo "$SYMBOLS symbols, one quote each a second; $CHANNELS channels per client; $DURATION s measured per run"
echo "load average before the runs: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| round | clients × channels | slices | config | subscribed | p50 ms | p90 ms | p99 ms | max ms | events/s | gaps / conflated / errors | server RSS | CPU % server / publisher / redis / loader | load average |"
echo "|---|---|---:|---|---|---:|---:|---:|---:|---:|---|---:|---|---|"
cat "$OUT/rows.md"
echo "raw outputs: $OUT"
