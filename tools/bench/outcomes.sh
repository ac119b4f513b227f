#!/usr/bin/env bash
# One outcomes run after a first refresh (SYMBOLS symbols × ten years from the mock Yahoo, on
# SQLite and PostgreSQL): how long finstage-scheduler once outcomes takes to fill every pending
# signal. Usage: SYMBOLS=100 tools/bench/outcomes.sh (release binaries in BIN).
set -euo pipefail
SYMBOLS="${SYMBOLS:-100}"
BIN="${BIN:-target/release}"
work="$(mktemp -d)"
"$BIN/finstage-wsload" yahoo --symbols "$SYMBOLS" --bars 2520 --duration 3600 --url-file "$work/url" > "$work/yahoo.log" 2>&1 &
mock=$!
trap 'kill $mock 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do [[ -s "$work/url" ]] && break; sleep 0.1; done
list="$(for ((i = 0; i < SYMBOLS; i++)); do printf 'S%04d,' "$i"; done)"; list="${list%,}"
for backend in sqlite postgres; do
  mkdir -p "$work/$backend"
  case $backend in
    sqlite) url="sqlite://var/finstage.db"; count() { sqlite3 "$work/sqlite/var/finstage.db" "$1"; } ;;
    postgres) db="finstage_outcomes_bench_$$"; psql postgres://postgres@127.0.0.1:5432/postgres -qAtX -c "CREATE DATABASE $db"
      url="postgres://postgres@127.0.0.1:5432/$db"; count() { psql "$url" -qAtX -c "$1"; } ;;
  esac
  run() {
    (cd "$work/$backend" && FINSTAGE_DATABASE_URL="$url" FINSTAGE_PROVIDER=yahoo FINSTAGE_YAHOO_BASE_URL="$(head -1 "$work/url")" \
      FINSTAGE_WATCHLIST="$list" FINSTAGE_PROVIDER__RATE_LIMIT__PER_SECOND=1000 FINSTAGE_PROVIDER__RATE_LIMIT__BURST=100 \
      FINSTAGE_LOG=warn /usr/bin/time -f "wall %e s, user %U s, sys %S s, peak RSS %M kB" "$BIN/finstage-scheduler" once "$1")
  }
  echo "== $backend, load $(cut -d' ' -f1-3 /proc/loadavg)"
  run daily_update | python3 -c 'import json,sys; r=json.load(sys.stdin); print("daily_update:", r["succeeded"], r["counts"])'
  echo "pending before: $(count "SELECT count(*) FROM signal_outcomes WHERE completed = false")"
  run outcomes
  echo "pending after: $(count "SELECT count(*) FROM signal_outcomes WHERE completed = false")"
  run outcomes
  [[ $backend == postgres ]] && psql postgres://postgres@127.0.0.1:5432/postgres -qAtX -c "DROP DATABASE $db"
done
