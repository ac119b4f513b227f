#!/usr/bin/env bash
# The API's idle memory (docs/PERFORMANCE.md, "HTTP API"): the release finstage-api started with
# the defaults (embedded SQLite under ./var/ of a fresh temporary directory, the bundled history
# imported on the first start, memory cache, in-process bus, Yahoo provider, embedded jobs as
# configured by default), only the listen address moved off 8080. VmRSS and VmHWM from /proc
# after IDLE seconds without a request, on the first start (which imports the history) and on a
# second start on the same database (nothing to import).
#
# Usage: tools/http-bench/rss.sh
# Environment: IDLE (15), PORT (18082), NO_BUILD=1 (use the binary already built).
set -euo pipefail
# shellcheck source=tools/http-bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

IDLE="${IDLE:-15}"
PORT="${PORT:-18082}"

build_release finstage-api
[[ -x "$API_BIN" ]] || die "no release binary at $API_BIN"
port_free "$PORT" || die "127.0.0.1:$PORT is taken (set PORT)"

work="$(mktemp -d -t finstage-http-rss.XXXXXX)"
api=""
cleanup() {
    [[ -n "$api" ]] && stop "$api"
    rm -rf "$work"
}
trap cleanup EXIT

echo "finstage-api $(build_id); $(date -u +%FT%TZ); idle ${IDLE} s after /health/ready"
for start in first second; do
    # Only the address is set; everything else is the built-in default, as from a fresh checkout.
    (cd "$work" && FINSTAGE_HTTP_ADDR="127.0.0.1:$PORT" exec "$API_BIN") > "$work/api-$start.log" 2>&1 &
    api=$!
    started=$(date +%s.%N)
    wait_ready "http://127.0.0.1:$PORT/health/ready" "$api" \
        || die "finstage-api did not get ready: $(tail -5 "$work/api-$start.log")"
    ready=$(date +%s.%N)
    sleep "$IDLE"
    imported="$(awk '/bundled history imported/ && match($0, /bars=[0-9]+/) {n += substr($0, RSTART + 5, RLENGTH - 5)}
        END {print n + 0}' "$work/api-$start.log")"
    printf "%s start (%s bars imported, ready %s s after launch): %s\n" "$start" "$imported" \
        "$(awk -v a="$started" -v b="$ready" 'BEGIN {printf "%.1f", b - a}')" "$(memory "$api")"
    stop "$api"
    api=""
done
