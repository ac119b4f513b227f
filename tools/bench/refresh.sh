#!/usr/bin/env bash
# End-to-end refresh of SYMBOLS symbols by the release `finstage-scheduler` (docs/PERFORMANCE.md,
# "End-to-end refresh"): `finstage-scheduler once daily_update` against a mock Yahoo
# (`finstage-wsload yahoo --symbols 500 --bars 2520`: S0000…S0499, ten years of synthetic daily
# bars each, ending on the newest weekday), on a fresh database:
#   first   every symbol has no bars: ten years fetched, stored, indicators and signal rules run
#           over them (the first refresh);
#   second  the same command again: everything is current, the steady-state refresh (skips).
# The upstream rate limit (default 2 requests/s, politeness towards Yahoo) is lifted
# (FINSTAGE_PROVIDER__RATE_LIMIT__PER_SECOND=1000, BURST=100) to show the pipeline's own cost;
# DEFAULT_LIMIT=1 adds a daily refresh at the default limit (about SYMBOLS/2 seconds) on the first
# backend; DEFAULT_LIMIT=first also a first refresh at the default limit on a fresh database.
# Measured with /usr/bin/time -v (wall, CPU, peak RSS); the job's JSON report is kept and
# summed up; the database's bars are counted after the first refresh. Every scheduler run has
# its own mock, which counts the requests it served.
# Baseline in the same round: the same SYMBOLS ten-year charts fetched from the same mock by
# curl at the same concurrency, nothing else done with them (the transport's and the mock's
# cost).
#
# Usage: tools/bench/refresh.sh
# Environment: SYMBOLS (500), BARS (2520), BACKENDS ("sqlite postgres"), CONCURRENCY ("8 32"),
#   ROUNDS (2), PG_URL (postgres://postgres@127.0.0.1:5432: a database is created and dropped
#   per run), DEFAULT_LIMIT (0, 1 or first), NO_BUILD=1 (use the binaries already built), SCHEDULER_BIN,
#   WSLOAD_BIN (other binaries), OUT (a directory for the raw outputs; a temporary one by
#   default).
set -euo pipefail
# shellcheck source=tools/http-bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../http-bench/common.sh"

SYMBOLS="${SYMBOLS:-500}"
BARS="${BARS:-2520}"
BACKENDS="${BACKENDS:-sqlite postgres}"
CONCURRENCY="${CONCURRENCY:-8 32}"
ROUNDS="${ROUNDS:-2}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
DEFAULT_LIMIT="${DEFAULT_LIMIT:-0}"
SCHEDULER_BIN="${SCHEDULER_BIN:-$TARGET_DIR/release/finstage-scheduler}"

[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install -y time)"
command -v curl >/dev/null || die "curl is missing"
command -v python3 >/dev/null || die "python3 is missing (reads the job's JSON report)"
command -v sqlite3 >/dev/null || die "sqlite3 is missing (apt-get install -y sqlite3)"
if [[ " $BACKENDS " == *" postgres "* ]]; then
    command -v psql >/dev/null || die "psql is missing (apt-get install -y postgresql-client)"
fi
build_release finstage-scheduler finstage-wsload
[[ -x "$SCHEDULER_BIN" && -x "$WSLOAD_BIN" ]] || die "no release binaries in $TARGET_DIR/release"

work="$(mktemp -d -t finstage-refresh.XXXXXX)"
OUT="${OUT:-$work/out}"
mkdir -p "$OUT"
pids=()
databases=()
psql_admin() { psql "$PG_URL/postgres" -qAtX -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
    for pid in "${pids[@]}"; do stop "$pid"; done
    for db in "${databases[@]}"; do psql_admin -c "DROP DATABASE IF EXISTS $db" 2>/dev/null || true; done
    rm -rf "$work"/db-*
}
trap cleanup EXIT

list="$(for ((i = 0; i < SYMBOLS; i++)); do printf 'S%04d,' "$i"; done)"
list="${list%,}"

# mock_start NAME: a mock Yahoo in the background; sets mock (its pid) and mock_url.
mock_start() {
    rm -f "$work/$1.url"
    "$WSLOAD_BIN" yahoo --symbols "$SYMBOLS" --bars "$BARS" --duration 3600 --url-file "$work/$1.url" \
        > "$OUT/$1.yahoo.log" 2>&1 &
    mock=$!
    pids+=("$mock")
    for _ in $(seq 1 300); do [[ -s "$work/$1.url" ]] && break; sleep 0.1; done
    [[ -s "$work/$1.url" ]] || die "the mock Yahoo did not start: $(cat "$OUT/$1.yahoo.log")"
    mock_url="$(head -1 "$work/$1.url")"
}
# mock_stop NAME: stops the mock (Ctrl-C: it prints how many requests it served); prints that.
mock_stop() {
    kill -INT "$mock" 2>/dev/null || true
    wait "$mock" 2>/dev/null || true
    sed -n 's/^\([0-9]*\) requests served.*/\1/p' "$OUT/$1.yahoo.log"
}
# timing FILE: "wall s | user+sys s | peak RSS MiB" from /usr/bin/time -v's output.
timing() {
    awk -F': ' '
        /Elapsed \(wall clock\)/ {n = split($2, t, ":"); wall = 0; for (i = 1; i <= n; i++) wall = wall * 60 + t[i]}
        /User time/ {cpu += $2} /System time/ {cpu += $2}
        /Maximum resident set size/ {rss = $2 / 1024}
        END {printf "%.2f | %.2f | %.1f", wall, cpu, rss}' "$1"
}

# baseline ROUND CONCURRENCY: the charts fetched by curl, CONCURRENCY at a time.
baseline() {
    local round="$1" concurrency="$2" name="r$1-curl-c$2"
    local load period1 period2
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    mock_start "$name"
    period2="$(($(date +%s) + 86400))"
    period1="$((period2 - 3653 * 86400))"
    for ((i = 0; i < SYMBOLS; i++)); do
        printf 'url = "%s/v8/finance/chart/S%04d?period1=%s&period2=%s&interval=1d"\noutput = "/dev/null"\n' \
            "$mock_url" "$i" "$period1" "$period2"
    done > "$work/curl.conf"
    /usr/bin/time -v -o "$OUT/$name.time" curl -sf --no-progress-meter --parallel --parallel-max "$concurrency" -K "$work/curl.conf" \
        || log "warning: curl failed ($name)"
    local requests
    requests="$(mock_stop "$name")"
    printf '| %s | baseline: curl, the charts only | – | %s | %s | %s | – | – | – | – | – | %s |\n' \
        "$round" "$concurrency" "$(timing "$OUT/$name.time")" "$requests" "$load" >> "$OUT/rows.md"
    tail -1 "$OUT/rows.md" >&2
}

# sql BACKEND URL DIR STATEMENT: runs a statement on the run's database, prints its result.
sql() {
    case "$1" in
    sqlite) sqlite3 "$3/var/finstage.db" "$4" ;;
    postgres) psql "$2" -qAtX -v ON_ERROR_STOP=1 -c "$4" ;;
    esac
}
# The newest day of the synthetic symbols removed (bars and the signals on or after it), as if
# the provider had one new bar per symbol since the last refresh.
REMOVE_NEWEST_DAY="DELETE FROM signals WHERE symbol LIKE 'S%' AND triggered_at >= (SELECT max(date) FROM daily_bars WHERE symbol LIKE 'S%'); DELETE FROM daily_bars WHERE symbol LIKE 'S%' AND date = (SELECT max(date) FROM daily_bars WHERE symbol LIKE 'S%')"

# pass ROUND BACKEND CONCURRENCY LIMIT PASS URL DIR: one `once daily_update`, its row.
pass() {
    local round="$1" backend="$2" concurrency="$3" limit="$4" pass="$5" url="$6" dir="$7"
    local name="r$round-$backend-c$concurrency-$pass-$limit"
    local per_second=1000 burst=100
    if [[ "$limit" == default ]]; then per_second=2 burst=1; fi
    local load requests summary stored="–"
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    mock_start "$name"
    (
        cd "$dir"
        export FINSTAGE_DATABASE_URL="$url"
        export FINSTAGE_PROVIDER=yahoo
        export FINSTAGE_YAHOO_BASE_URL="$mock_url"
        export FINSTAGE_WATCHLIST="$list"
        export FINSTAGE_PROVIDER__RATE_LIMIT__PER_SECOND="$per_second"
        export FINSTAGE_PROVIDER__RATE_LIMIT__BURST="$burst"
        export FINSTAGE_SCHEDULER__CONCURRENCY="$concurrency"
        export FINSTAGE_LOG=warn
        /usr/bin/time -v -o "$OUT/$name.time" "$SCHEDULER_BIN" once daily_update
    ) > "$OUT/$name.json" 2> "$OUT/$name.log" || log "warning: $name failed: $(tail -3 "$OUT/$name.log")"
    requests="$(mock_stop "$name")"
    summary="$(python3 - "$OUT/$name.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"no report ({e.__class__.__name__}) | – | – | –")
    sys.exit()
c = r.get("counts", {})
print(f"{r['succeeded']} / {r['skipped']} / {len(r['failed'])} | {r['duration_ms']:,} | {c.get('bars', 0):,} | {c.get('signals', 0):,}")
PY
)"
    if [[ "$pass" == first ]]; then
        stored="$(sql "$backend" "$url" "$dir" "SELECT count(*) || ' bars, ' || count(DISTINCT symbol) || ' symbols' FROM daily_bars WHERE symbol LIKE 'S%'")"
    fi
    printf '| %s | %s, %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$round" "$backend" "$pass" "$limit" "$concurrency" "$(timing "$OUT/$name.time")" \
        "$requests" "$summary" "$stored" "$load" >> "$OUT/rows.md"
    tail -1 "$OUT/rows.md" >&2
}

# refresh ROUND BACKEND CONCURRENCY: a fresh database; the first refresh (ten years of every
# symbol), a daily one (the newest day removed first: one new bar per symbol), a current one
# (nothing new), all with the limit lifted; with DEFAULT_LIMIT=1 and the first backend, then a
# daily one at the default limit.
refresh() {
    local round="$1" backend="$2" concurrency="$3"
    local dir="$work/db-r$round-$backend-c$concurrency" url db=""
    mkdir -p "$dir"
    case "$backend" in
    sqlite) url="sqlite://var/finstage.db" ;;
    postgres)
        db="finstage_bench_$$_r${round}_c${concurrency}"
        databases+=("$db")
        psql_admin -c "CREATE DATABASE $db"
        url="$PG_URL/$db"
        ;;
    *) die "unknown backend $backend" ;;
    esac
    pass "$round" "$backend" "$concurrency" lifted first "$url" "$dir"
    sql "$backend" "$url" "$dir" "$REMOVE_NEWEST_DAY" > /dev/null
    pass "$round" "$backend" "$concurrency" lifted daily "$url" "$dir"
    pass "$round" "$backend" "$concurrency" lifted current "$url" "$dir"
    if [[ "$DEFAULT_LIMIT" != 0 && "$backend" == "${BACKENDS%% *}" && "$round" == 1 ]]; then
        sql "$backend" "$url" "$dir" "$REMOVE_NEWEST_DAY" > /dev/null
        pass "$round" "$backend" "$concurrency" default daily "$url" "$dir"
    fi
    if [[ -n "$db" ]]; then psql_admin -c "DROP DATABASE $db"; fi
    rm -rf "$dir"
    if [[ "$DEFAULT_LIMIT" == first && "$backend" == "${BACKENDS%% *}" && "$round" == 1 ]]; then
        # Again from nothing, at the provider's default pace.
        mkdir -p "$dir"
        if [[ -n "$db" ]]; then psql_admin -c "CREATE DATABASE $db"; fi
        pass "$round" "$backend" "$concurrency" default first "$url" "$dir"
        if [[ -n "$db" ]]; then psql_admin -c "DROP DATABASE $db"; fi
        rm -rf "$dir"
    fi
}

log "finstage-scheduler $SCHEDULER_BIN (checkout $(git -C "$ROOT" rev-parse --short HEAD)), $(date -u +%FT%TZ)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
: > "$OUT/rows.md"
for ((round = 1; round <= ROUNDS; round++)); do
    for concurrency in $CONCURRENCY; do
        baseline "$round" "$concurrency"
        for backend in $BACKENDS; do
            refresh "$round" "$backend" "$concurrency"
        done
    done
done

echo "finstage-scheduler $SCHEDULER_BIN (built $(date -u -r "$SCHEDULER_BIN" +%FT%TZ)); checkout $(git -C "$ROOT" rev-parse --short HEAD); $(date -u +%F)"
echo "$SYMBOLS symbols × $BARS daily bars (mock Yahoo); load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| round | run | upstream limit | concurrency | wall s | CPU s (user+sys) | peak RSS MiB | requests to the mock | succeeded / skipped / failed | job ms | bars written | signals | daily_bars stored | load average |"
echo "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|"
cat "$OUT/rows.md"
echo "raw outputs (JSON reports, time -v, logs): $OUT"
