#!/usr/bin/env python3
"""Baseline for the all-indicators benchmark: the same 26 default indicators over 500 symbols x
2,520 daily bars, computed from Python with TA-Lib's C functions (the fastest a Python service can
do it; a pandas rolling/ewm implementation is slower still). One thread, timing only the calls.

    python3 tools/bench/python_baseline.py

VWAP is not in TA-Lib: it is computed with numpy (cumulative sums), per session for
`vwap:session` and from the first bar for `vwap:anchored`.
"""
import time

import numpy as np
import talib

SYMBOLS = 500
BARS = 2_520
RUNS = 3


def random_walk(n, rng):
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = close * (1 + rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.005, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.005, n)))
    volume = rng.lognormal(np.log(1e6), 0.5, n)
    return open_, high, low, close, volume


def all_indicators(o, h, l, c, v, day):
    out = [
        talib.SMA(c, 20), talib.EMA(c, 20), talib.WMA(c, 20), talib.DEMA(c, 20), talib.TEMA(c, 20),
        talib.RSI(c, 14), *talib.MACD(c, 12, 26, 9), *talib.BBANDS(c, 20, 2, 2, 0), talib.STDDEV(c, 20, 1),
        talib.ATR(h, l, c, 14), talib.NATR(h, l, c, 14), talib.TRANGE(h, l, c),
        *talib.STOCH(h, l, c, 14, 3, 0, 3, 0), *talib.STOCHRSI(c, 14, 14, 3, 0),
        talib.ADX(h, l, c, 14), talib.PLUS_DI(h, l, c, 14), talib.MINUS_DI(h, l, c, 14), talib.DX(h, l, c, 14),
        talib.CCI(h, l, c, 20), talib.MFI(h, l, c, v, 14), talib.WILLR(h, l, c, 14),
        talib.ROC(c, 10), talib.MOM(c, 10), talib.OBV(c, v),
    ]
    tp = (h + l + c) / 3
    pv = tp * v
    out.append(np.cumsum(pv) / np.cumsum(v))  # vwap:anchored
    starts = np.r_[True, day[1:] != day[:-1]]  # vwap:session (one session a UTC day)
    group = np.cumsum(starts) - 1
    cpv, cv = np.cumsum(pv), np.cumsum(v)
    first = np.flatnonzero(starts)
    base_pv = np.r_[0.0, cpv[first[1:] - 1]][group]
    base_v = np.r_[0.0, cv[first[1:] - 1]][group]
    out.append((cpv - base_pv) / (cv - base_v))
    return out


def main():
    rng = np.random.default_rng(20261122)
    symbols = [random_walk(BARS, rng) for _ in range(SYMBOLS)]
    day = np.arange(BARS)
    columns = len(all_indicators(*symbols[0], day))
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        for o, h, l, c, v in symbols:
            all_indicators(o, h, l, c, v, day)
        best = min(best, time.perf_counter() - start)
    bars = SYMBOLS * BARS
    print(f"TA-Lib {talib.__version__} from Python, {columns} columns, {SYMBOLS} symbols x {BARS} bars:")
    print(f"best of {RUNS}: {best * 1e3:.0f} ms, {best * 1e9 / bars:.0f} ns per bar")


if __name__ == "__main__":
    main()
