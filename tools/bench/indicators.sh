#!/usr/bin/env bash
# Benchmarks finstage-indicators against TA-Lib's C library (from the Python wheel), ta, yata and
# kand, then prints the Markdown report. Extra arguments go to criterion, e.g. a name filter:
#   tools/bench/indicators.sh            # everything (about ten minutes on two cores)
#   tools/bench/indicators.sh rsi_       # only the RSI groups (the report shows n/a elsewhere)
set -euo pipefail

cd "$(dirname "$0")/../.."

if [[ -z "${FINSTAGE_TALIB_LIB:-}" ]]; then
    # The wheel bundles the C library next to the package: site-packages/ta_lib.libs/.
    if ! FINSTAGE_TALIB_LIB="$(python3 -c '
import glob, os, sys
try:
    import talib
except ImportError:
    sys.exit("TA-Lib (the Python wheel) is not installed.")
site = os.path.dirname(os.path.dirname(talib.__file__))
found = sorted(glob.glob(os.path.join(site, "ta_lib.libs", "libta-lib*.so*")))
if not found:
    sys.exit("The TA-Lib wheel has no bundled libta-lib in " + os.path.join(site, "ta_lib.libs") + ".")
print(found[0])
')"; then
        echo "The TA-Lib columns will be n/a. Install TA-Lib with: pip install -r tools/golden/requirements.txt" >&2
        echo "(or set FINSTAGE_TALIB_LIB to a libta-lib shared library)." >&2
        FINSTAGE_TALIB_LIB=""
    fi
fi
export FINSTAGE_TALIB_LIB
if [[ -n "$FINSTAGE_TALIB_LIB" ]]; then
    echo "TA-Lib library: $FINSTAGE_TALIB_LIB" >&2
fi

target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release -p finstage-indicators-bench --bin report

# Estimates older than this run are left over from an earlier one: the report ignores them.
started="$(date +%s)"

cargo bench -p finstage-indicators-bench --bench compare --bench all_indicators -- "$@"

"$target_dir/release/report" "$target_dir/criterion" --since "$started"
