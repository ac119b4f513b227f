#!/usr/bin/env bash
# Fuzzes the HTTP API from its own OpenAPI document with schemathesis: every operation of
# /openapi.json, generated valid and invalid requests (examples, coverage and fuzzing phases), the
# admin endpoints with the admin token. Fails on any 5xx answer (`not_a_server_error`), on a panic
# in the server's log, or when the server died. Offline: a fresh SQLite database in a temporary
# directory (the bundled history imported), the replay provider, no Redis, no Telegram.
#
# Usage: tools/http-bench/schemathesis.sh [extra `st run` options…]
# Environment: MAX_EXAMPLES (25 per operation), SEED (1; `random` for a new one each run), TIMEOUT
#   (600: seconds the schemathesis run may take),
#   API_BIN (a finstage-api binary; by default the debug one, built with the workspace's test
#   features so that it reuses the test build), ST (the schemathesis command, `st`).
set -euo pipefail
user_bin="${API_BIN:-}"
# shellcheck source=tools/http-bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

MAX_EXAMPLES="${MAX_EXAMPLES:-25}"
SEED="${SEED:-1}"
ST="${ST:-st}"

command -v "$ST" >/dev/null || die "schemathesis is missing (pip install schemathesis)"
if [[ -z "$user_bin" ]]; then
    API_BIN="$TARGET_DIR/debug/finstage-api"
    if [[ "${NO_BUILD:-0}" != 1 ]]; then
        (cd "$ROOT" && cargo build --workspace --all-features --locked --bin finstage-api)
    fi
fi
[[ -x "$API_BIN" ]] || die "no finstage-api binary at $API_BIN"

work="$(mktemp -d -t finstage-schemathesis.XXXXXX)"
api=""
cleanup() {
    [[ -n "$api" ]] && stop "$api"
    rm -rf "$work"
}
trap cleanup EXIT

token="schemathesis-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
(
    cd "$work"
    export FINSTAGE_DATABASE_URL="sqlite://$work/finstage.db"
    export FINSTAGE_HTTP_ADDR=127.0.0.1:0
    export FINSTAGE_PROVIDER=replay
    export FINSTAGE_ADMIN_TOKEN="$token"
    # One client generating thousands of requests: the per-IP limit would only answer 429s.
    export FINSTAGE_API__RATE_LIMIT__PER_SECOND=0
    export FINSTAGE_LOG="${FINSTAGE_LOG:-info}"
    exec "$API_BIN"
) > "$work/api.log" 2>&1 &
api=$!

port=""
for _ in $(seq 1 600); do
    kill -0 "$api" 2>/dev/null || break
    port="$(sed -n 's/.*finstage-api listening.*port=\([0-9]*\).*/\1/p' "$work/api.log" | head -1)"
    [[ -n "$port" ]] && break
    sleep 0.1
done
[[ -n "$port" ]] || die "finstage-api did not start: $(tail -20 "$work/api.log")"
base="http://127.0.0.1:$port"
wait_ready "$base/health/ready" "$api" 60 || die "finstage-api is not ready: $(tail -20 "$work/api.log")"
log "finstage-api $(build_id) on $base; schemathesis $("$ST" --version | awk '{print $NF}')"

seed_args=()
[[ "$SEED" != random ]] && seed_args=(--seed "$SEED")
status=0
# From the temporary directory: schemathesis leaves its `.schemathesis/` cache where it runs.
(cd "$work" && exec timeout "${TIMEOUT:-600}" "$ST" run "$base/openapi.json" \
    --checks not_a_server_error \
    --phases examples,coverage,fuzzing \
    --max-examples "$MAX_EXAMPLES" \
    --header "Authorization: Bearer $token" \
    --request-timeout 30 \
    --no-shrink \
    --warnings off \
    "${seed_args[@]}" \
    "$@") || status=$?

if ! kill -0 "$api" 2>/dev/null; then
    log "finstage-api died during the run:"
    tail -40 "$work/api.log" >&2
    status=1
fi
if grep -q 'panicked' "$work/api.log"; then
    log "finstage-api panicked:"
    grep -A5 'panicked' "$work/api.log" | head -40 >&2
    status=1
fi
if grep -qE ' ERROR ' "$work/api.log"; then
    log "ERROR lines of finstage-api's log (for information: the checks above decide):"
    grep -E ' ERROR ' "$work/api.log" | head -20 >&2
fi
if [[ "$status" -ne 0 ]]; then
    log "schemathesis: FAILED (a 5xx, a panic or a dead server; see above)"
else
    log "schemathesis: no 5xx"
fi
exit "$status"
