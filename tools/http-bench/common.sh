# Shared by the scripts of tools/http-bench: sourced, not run.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# Set when the caller named the binary: its commit is then not necessarily the checkout's.
API_BIN_GIVEN="${API_BIN:+1}"
API_BIN="${API_BIN:-$TARGET_DIR/release/finstage-api}"
WSLOAD_BIN="${WSLOAD_BIN:-$TARGET_DIR/release/finstage-wsload}"

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# build_release PACKAGE…: a release build of the packages, unless NO_BUILD=1.
build_release() {
    if [[ "${NO_BUILD:-0}" == 1 ]]; then
        return
    fi
    local args=()
    for package in "$@"; do args+=(-p "$package"); done
    (cd "$ROOT" && cargo build --release --locked "${args[@]}")
}

# port_free PORT: whether nothing answers on 127.0.0.1:PORT.
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_ready URL PID [SECONDS]: waits until URL answers 200, while PID lives.
wait_ready() {
    local url="$1" pid="$2" seconds="${3:-120}"
    for _ in $(seq 1 $((seconds * 10))); do
        if ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" == 200 ]]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# stop PID: SIGTERM, then SIGKILL after 15 s; waits for the process.
stop() {
    local pid="$1"
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# memory PID: "VmRSS … kB, VmHWM … kB" of a process, from /proc.
memory() {
    awk '/^VmRSS:/ {rss=$2} /^VmHWM:/ {hwm=$2} END {printf "VmRSS %.1f MiB (%d kB), VmHWM %.1f MiB (%d kB)\n", rss/1024, rss, hwm/1024, hwm}' \
        "/proc/$1/status"
}

# build_id: the commit measured, and whether the working tree differs from it; for a binary
# named by API_BIN, its path and modification time instead (the checkout may be elsewhere).
build_id() {
    if [[ -n "$API_BIN_GIVEN" ]]; then
        printf '%s (built %s; checkout at %s)' "$API_BIN" "$(date -u -r "$API_BIN" +%FT%TZ)" \
            "$(git -C "$ROOT" rev-parse --short HEAD)"
        return
    fi
    local commit dirty=""
    commit="$(git -C "$ROOT" rev-parse --short HEAD)"
    if ! git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null; then
        dirty=" (working tree differs from the commit)"
    fi
    printf '%s%s' "$commit" "$dirty"
}
