#!/usr/bin/env python3
"""Generate the TA-Lib golden CSVs used by the `finstage-indicators` tests.

Run from anywhere (paths are resolved relative to this file):

    python3 tools/golden/make_golden.py

Inputs:  data/seed/{AAPL,MSFT,IBM}.csv (+ a synthetic series generated here).
Outputs: crates/indicators/tests/golden/{AAPL,MSFT,IBM,synthetic_input,synthetic}.csv

The script is deterministic: running it twice produces byte-identical files.
Only numpy and the standard library are used besides TA-Lib.
"""

import csv
import datetime as dt
import math
import sys
from pathlib import Path

import numpy as np
import talib

REQUIRED_TALIB = "0.8.2"
SYNTH_SEED = 20200101
SYNTH_START = dt.date(2020, 1, 1)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SEED_DIR = REPO / "data" / "seed"
OUT_DIR = REPO / "crates" / "indicators" / "tests" / "golden"


# --------------------------------------------------------------------------- #
# Indicator specs
# --------------------------------------------------------------------------- #
# A spec is (name, params). Its column name(s) are built by `spec_columns`.

def fmt_param(p):
    """Integers and words as-is; floats like Python prints them, minus a trailing '.0'."""
    if isinstance(p, (int, str)):
        return str(p)
    s = repr(float(p))
    return s[:-2] if s.endswith(".0") else s


def spec_string(name, params):
    return ":".join([name] + [fmt_param(p) for p in params])


# Output suffixes for multi-output indicators, in TA-Lib output order.
MULTI_OUTPUTS = {
    "macd": ("macd", "signal", "hist"),
    "bbands": ("upper", "middle", "lower"),
    "stoch": ("k", "d"),
    "stochrsi": ("k", "d"),
}


def spec_columns(name, params):
    base = spec_string(name, params)
    if name in MULTI_OUTPUTS:
        return [f"{base}.{suffix}" for suffix in MULTI_OUTPUTS[name]]
    return [base]


FULL_GRID = (
    [("sma", (n,)) for n in (2, 5, 20, 50, 200)]
    + [("ema", (n,)) for n in (2, 12, 20, 26, 50)]
    + [("wma", (n,)) for n in (2, 20)]
    + [("dema", (n,)) for n in (5, 20)]
    + [("tema", (n,)) for n in (5, 20)]
    + [("rsi", (n,)) for n in (2, 14, 30)]
    + [("macd", p) for p in ((12, 26, 9), (5, 35, 5), (3, 10, 16))]
    + [("bbands", p) for p in ((20, 2.0), (10, 1.5), (5, 1.0))]
    + [("stddev", (n,)) for n in (5, 20)]
    + [("atr", (n,)) for n in (1, 14, 20)]
    + [("natr", (14,))]
    + [("trange", ())]
    + [("stoch", p) for p in ((14, 3, 3), (5, 3, 3), (21, 1, 1))]
    + [("stochrsi", p) for p in ((14, 14, 3), (14, 5, 3))]
    + [("obv", ())]
    + [(name, (n,)) for n in (14, 7) for name in ("adx", "plus_di", "minus_di", "dx")]
    + [("cci", (n,)) for n in (14, 20)]
    + [("mfi", (n,)) for n in (5, 14)]
    + [("willr", (n,)) for n in (5, 14)]
    + [("roc", (n,)) for n in (1, 10)]
    + [("mom", (n,)) for n in (1, 10)]
    + [("vwap", ("anchored",)), ("vwap", ("session",))]
)

DEFAULTS = [
    ("sma", (20,)),
    ("ema", (20,)),
    ("wma", (20,)),
    ("dema", (20,)),
    ("tema", (20,)),
    ("rsi", (14,)),
    ("macd", (12, 26, 9)),
    ("bbands", (20, 2.0)),
    ("stddev", (20,)),
    ("atr", (14,)),
    ("natr", (14,)),
    ("trange", ()),
    ("stoch", (14, 3, 3)),
    ("stochrsi", (14, 14, 3)),
    ("obv", ()),
    ("adx", (14,)),
    ("plus_di", (14,)),
    ("minus_di", (14,)),
    ("dx", (14,)),
    ("cci", (20,)),
    ("mfi", (14,)),
    ("willr", (14,)),
    ("roc", (10,)),
    ("mom", (10,)),
    ("vwap", ("anchored",)),
    ("vwap", ("session",)),
]

SYNTH_EXTRA = [("rsi", (2,)), ("sma", (2,)), ("stoch", (5, 3, 3)), ("atr", (1,))]


# --------------------------------------------------------------------------- #
# Computation
# --------------------------------------------------------------------------- #

def vwap_anchored(h, l, c, v):
    tp = (h + l + c) / 3.0
    cum_pv = np.cumsum(tp * v)
    cum_v = np.cumsum(v)
    out = np.full(len(c), np.nan)
    ok = cum_v != 0.0
    out[ok] = cum_pv[ok] / cum_v[ok]
    return out


def vwap_session(dates, h, l, c, v):
    """Session = one UTC calendar day; consecutive rows with the same day are
    accumulated together (sequential float64 sums, reset at each new day)."""
    tp = (h + l + c) / 3.0
    pv = tp * v
    out = np.full(len(c), np.nan)
    cur_day = None
    cum_pv = 0.0
    cum_v = 0.0
    for i, d in enumerate(dates):
        day = d[:10]
        if day != cur_day:
            cur_day, cum_pv, cum_v = day, 0.0, 0.0
        cum_pv += float(pv[i])
        cum_v += float(v[i])
        if cum_v != 0.0:
            out[i] = cum_pv / cum_v
    return out


def compute(name, params, bars):
    """Return the list of output arrays for one spec, in column order."""
    h, l, c, v = bars["high"], bars["low"], bars["close"], bars["volume"]
    if name in ("sma", "ema", "wma", "dema", "tema", "rsi", "roc", "mom"):
        fn = getattr(talib, name.upper())
        return [fn(c, timeperiod=params[0])]
    if name == "macd":
        f, s, g = params
        return list(talib.MACD(c, fastperiod=f, slowperiod=s, signalperiod=g))
    if name == "bbands":
        n, k = params
        return list(talib.BBANDS(c, timeperiod=n, nbdevup=k, nbdevdn=k, matype=0))
    if name == "stddev":
        return [talib.STDDEV(c, timeperiod=params[0], nbdev=1.0)]
    if name in ("atr", "natr", "adx", "plus_di", "minus_di", "dx", "cci", "willr"):
        fn = getattr(talib, name.upper())
        return [fn(h, l, c, timeperiod=params[0])]
    if name == "trange":
        return [talib.TRANGE(h, l, c)]
    if name == "stoch":
        k, sk, sd = params
        return list(talib.STOCH(h, l, c, fastk_period=k, slowk_period=sk,
                                slowk_matype=0, slowd_period=sd, slowd_matype=0))
    if name == "stochrsi":
        n, k, d = params
        return list(talib.STOCHRSI(c, timeperiod=n, fastk_period=k,
                                   fastd_period=d, fastd_matype=0))
    if name == "obv":
        return [talib.OBV(c, v)]
    if name == "mfi":
        return [talib.MFI(h, l, c, v, timeperiod=params[0])]
    if name == "vwap":
        if params == ("anchored",):
            return [vwap_anchored(h, l, c, v)]
        if params == ("session",):
            return [vwap_session(bars["date"], h, l, c, v)]
    raise ValueError(f"unknown spec {spec_string(name, params)}")


# --------------------------------------------------------------------------- #
# I/O
# --------------------------------------------------------------------------- #

def load_bars(path):
    """Read Date,Open,High,Low,Close,Volume[,...] into float64 arrays."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        want = ["Date", "Open", "High", "Low", "Close", "Volume"]
        if header[:6] != want:
            raise SystemExit(f"{path}: unexpected header {header}")
        rows = [r for r in reader if r]
    bars = {"date": [r[0] for r in rows]}
    for j, key in enumerate(("open", "high", "low", "close", "volume"), start=1):
        bars[key] = np.array([float(r[j]) for r in rows], dtype=np.float64)
    return bars


def fmt_value(x):
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        raise ValueError("infinite value in output")
    return repr(x)


def write_text(path, lines):
    data = "".join(line + "\n" for line in lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="ascii") as f:
        f.write(data)
    return len(data.encode("ascii"))


def write_golden(path, bars, specs):
    columns, arrays = [], []
    for name, params in specs:
        cols = spec_columns(name, params)
        outs = compute(name, params, bars)
        assert len(cols) == len(outs), (cols, len(outs))
        for col, arr in zip(cols, outs):
            arr = np.asarray(arr, dtype=np.float64)
            assert arr.shape == (len(bars["date"]),), (col, arr.shape)
            columns.append(col)
            arrays.append(arr)
    if len(set(columns)) != len(columns):
        raise SystemExit(f"{path.name}: duplicate column names")
    lines = [",".join(["date"] + columns)]
    for i, d in enumerate(bars["date"]):
        lines.append(",".join([d] + [fmt_value(a[i]) for a in arrays]))
    size = write_text(path, lines)
    print(f"wrote {path.relative_to(REPO)}: {len(bars['date'])} rows, "
          f"{len(columns)} indicator columns, {size} bytes")


# --------------------------------------------------------------------------- #
# Synthetic input
# --------------------------------------------------------------------------- #

class SynthBuilder:
    def __init__(self, rng):
        self.rng = rng
        self.rows = []  # (open, high, low, close, volume)

    @property
    def last_close(self):
        return self.rows[-1][3]

    def bar(self, o, c, wick, volume):
        """Add a bar with wicks of relative size |wick| around the body."""
        rng = self.rng
        h = max(o, c) * (1.0 + abs(rng.normal(0.0, wick)))
        lo = min(o, c) * (1.0 - abs(rng.normal(0.0, wick)))
        h = max(h, o, c)
        lo = min(lo, o, c)
        self.rows.append((float(o), float(h), float(lo), float(c), int(volume)))

    def walk(self, n, start, sigma, gap_sigma, wick, vol_lo, vol_hi,
             drift=0.0, gaps=None):
        """Log-normal random walk; `gaps` maps bar index -> forced open gap."""
        gaps = gaps or {}
        prev = start
        for i in range(n):
            g = gaps.get(i, self.rng.normal(0.0, gap_sigma))
            o = prev * (1.0 + g)
            c = o * math.exp(drift + self.rng.normal(0.0, sigma))
            vol = self.rng.integers(vol_lo, vol_hi) if vol_hi > 0 else 0
            self.bar(o, c, wick, vol)
            prev = c

    def constant(self, n, price, volume):
        for _ in range(n):
            self.rows.append((price, price, price, price, int(volume)))


def make_synthetic():
    """~400 bars exercising edge cases. Segment boundaries (0-based rows):
      0- 99  random walk around 100
    100-139  perfectly constant bars (O=H=L=C), constant volume
    140-169  random walk with volume 0
    170-209  tiny prices, random walk 0.0001 -> ~0.0007, normal volume
    210-249  tiny prices, near-flat (relative moves ~1e-6), volume 1..199
    250-279  back around 100 with forced +/-20 % opening gaps
    280-399  random walk
    """
    rng = np.random.default_rng(SYNTH_SEED)
    b = SynthBuilder(rng)
    b.walk(100, 100.0, sigma=0.015, gap_sigma=0.003, wick=0.006,
           vol_lo=100_000, vol_hi=2_000_000)
    b.constant(40, round(b.last_close, 2), 750_000)
    b.walk(30, b.last_close, sigma=0.012, gap_sigma=0.002, wick=0.005,
           vol_lo=0, vol_hi=0)
    b.walk(40, 0.0001, sigma=0.03, gap_sigma=0.005, wick=0.01,
           vol_lo=100_000, vol_hi=2_000_000, drift=math.log(8.0) / 40)
    b.walk(40, b.last_close, sigma=1e-6, gap_sigma=2e-7, wick=5e-7,
           vol_lo=1, vol_hi=200)
    b.walk(30, 100.0, sigma=0.012, gap_sigma=0.002, wick=0.006,
           vol_lo=100_000, vol_hi=2_000_000,
           gaps={0: 0.0, 4: 0.20, 9: -0.20, 15: 0.20, 16: 0.20, 22: -0.20, 27: -0.20})
    b.walk(120, b.last_close, sigma=0.015, gap_sigma=0.003, wick=0.006,
           vol_lo=100_000, vol_hi=2_000_000)

    for i, (o, h, lo, c, v) in enumerate(b.rows):
        if not (0.0 < lo <= o <= h and lo <= c <= h and v >= 0):
            raise SystemExit(f"synthetic row {i} violates OHLC invariants: {o, h, lo, c, v}")
    lines = ["Date,Open,High,Low,Close,Volume"]
    for i, (o, h, lo, c, v) in enumerate(b.rows):
        day = (SYNTH_START + dt.timedelta(days=i)).isoformat()
        lines.append(f"{day},{o!r},{h!r},{lo!r},{c!r},{v}")
    return lines


# --------------------------------------------------------------------------- #

def main():
    if talib.__version__ != REQUIRED_TALIB:
        raise SystemExit(
            f"TA-Lib Python wrapper {talib.__version__} found, but the goldens are "
            f"pinned to TA-Lib=={REQUIRED_TALIB}; install tools/golden/requirements.txt")
    # Make the (already default) global settings explicit.
    talib.set_compatibility(0)
    talib.set_unstable_period("ALL", 0)
    print(f"TA-Lib {talib.__version__} (C core {talib.__ta_version__.decode()}), "
          f"numpy {np.__version__}")

    for sym in ("AAPL", "MSFT", "IBM"):
        bars = load_bars(SEED_DIR / f"{sym}.csv")
        specs = FULL_GRID if sym == "AAPL" else DEFAULTS
        write_golden(OUT_DIR / f"{sym}.csv", bars, specs)

    synth_path = OUT_DIR / "synthetic_input.csv"
    lines = make_synthetic()
    size = write_text(synth_path, lines)
    print(f"wrote {synth_path.relative_to(REPO)}: {len(lines) - 1} rows, {size} bytes")
    # Read the input back so the goldens use exactly the floats the tests parse.
    write_golden(OUT_DIR / "synthetic.csv", load_bars(synth_path), DEFAULTS + SYNTH_EXTRA)


if __name__ == "__main__":
    sys.exit(main())
