#!/usr/bin/env python3
"""Independent reference for finstage-analysis backtests: an SMA(fast)/SMA(slow) cross strategy
on data/seed/AAPL.csv, long-only and long/short, written with pandas from the rules in
README.md (not from the Rust code). Writes
crates/analysis/tests/golden/backtest_sma_cross_aapl.json.
"""

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "data" / "seed" / "AAPL.csv"
OUT = ROOT / "crates" / "analysis" / "tests" / "golden" / "backtest_sma_cross_aapl.json"

PARAMS = {
    "symbol": "AAPL",
    "fast": 20,
    "slow": 50,
    "fee_bps": 5.0,
    "slippage_bps": 5.0,
    "fraction": 1.0,
    "initial_equity": 10_000.0,
    "risk_free_rate": 0.02,
}


def crosses(close: pd.Series, fast: int, slow: int) -> pd.Series:
    """+1 on a golden cross bar, -1 on a dead cross bar, 0 elsewhere (NaN compares false)."""
    f = close.rolling(fast).mean()
    s = close.rolling(slow).mean()
    fp, sp = f.shift(1), s.shift(1)
    up = (fp <= sp) & (f > s)
    down = (fp >= sp) & (f < s)
    return up.astype(int) - down.astype(int)


def simulate(df: pd.DataFrame, signal: pd.Series, long_short: bool, p: dict):
    """Positions from the previous bar's signal, filled at the open; closed at the last close."""
    fee = p["fee_bps"] / 1e4
    slip = p["slippage_bps"] / 1e4
    opens, closes = df["Open"].to_numpy(), df["Close"].to_numpy()
    dates = df.index
    sig = signal.to_numpy()
    n = len(df)
    cash = p["initial_equity"]
    side = 0  # +1 long, -1 short
    qty = entry_fill = entry_fee = committed = 0.0
    entry_at = -1
    trades, equity, held = [], np.empty(n), 0

    def buy_fill(price):
        return price * (1 + slip)

    def sell_fill(price):
        return price * (1 - slip)

    def enter(new_side, price, i):
        nonlocal cash, side, qty, entry_fill, entry_fee, committed, entry_at
        committed = p["fraction"] * cash
        notional = committed / (1 + fee)
        entry_fee = notional * fee
        entry_fill = buy_fill(price) if new_side > 0 else sell_fill(price)
        qty = notional / entry_fill
        cash += -(notional + entry_fee) if new_side > 0 else notional - entry_fee
        side, entry_at = new_side, i

    def leave(price, i):
        nonlocal cash, side
        fill = sell_fill(price) if side > 0 else buy_fill(price)
        value = qty * fill
        exit_fee = value * fee
        if side > 0:
            cash += value - exit_fee
            pnl = qty * (fill - entry_fill) - entry_fee - exit_fee
        else:
            cash -= value + exit_fee
            pnl = qty * (entry_fill - fill) - entry_fee - exit_fee
        trades.append({
            "side": "long" if side > 0 else "short",
            "entry": dates[entry_at].strftime("%Y-%m-%d"),
            "exit": dates[i].strftime("%Y-%m-%d"),
            "entry_price": entry_fill,
            "exit_price": fill,
            "pnl": pnl,
            "return": pnl / committed,
        })
        side = 0

    for i in range(n):
        s = sig[i - 1] if i > 0 else 0  # yesterday's close decides today's open
        if s > 0 and side <= 0:
            if side < 0:
                leave(opens[i], i)
            enter(+1, opens[i], i)
        elif s < 0 and side > 0:
            leave(opens[i], i)
            if long_short:
                enter(-1, opens[i], i)
        elif s < 0 and side == 0 and long_short:
            enter(-1, opens[i], i)
        if side != 0:
            held += 1
        if i == n - 1 and side != 0:
            leave(closes[i], i)
        equity[i] = cash + side * qty * closes[i]
    return pd.Series(equity, index=dates), trades, held


def metrics(equity: pd.Series, trades: list, held: int, p: dict) -> dict:
    e0 = p["initial_equity"]
    s = pd.concat([pd.Series([e0], index=[equity.index[0]]), equity])  # E0 at the first open
    values = s.to_numpy()
    times = s.index
    r = s.pct_change().iloc[1:]
    rf = (1 + p["risk_free_rate"]) ** (1 / 252) - 1
    excess = r - rf
    sd = r.std(ddof=1)
    downside = math.sqrt((np.minimum(excess.to_numpy(), 0.0) ** 2).mean())
    days = (equity.index[-1] - equity.index[0]).days
    years = days / 365.25
    final = equity.iloc[-1]

    peak = s.cummax()
    dd = 1 - s / peak
    depth = float(dd.max())
    if depth > 0:
        trough = int(np.argmax(dd.to_numpy()))
        peak_value = peak.iloc[trough]
        peak_at = int(np.flatnonzero(values[: trough + 1] >= peak_value)[-1])
        later = np.flatnonzero(values[trough + 1 :] >= peak_value)
        end = trough + 1 + int(later[0]) if len(later) else len(values) - 1
        dd_bars, dd_days = end - peak_at, (times[end] - times[peak_at]).days
    else:
        dd_bars = dd_days = 0

    pnl = np.array([t["pnl"] for t in trades])
    gross_loss = -pnl[pnl < 0].sum()
    return {
        "final_equity": final,
        "total_return": final / e0 - 1,
        "cagr": (final / e0) ** (1 / years) - 1,
        "volatility": sd * math.sqrt(252),
        "sharpe": excess.mean() / sd * math.sqrt(252),
        "sortino": excess.mean() / downside * math.sqrt(252),
        "max_drawdown": depth,
        "max_drawdown_bars": dd_bars,
        "max_drawdown_days": dd_days,
        "trades": len(trades),
        "win_rate": float((pnl > 0).mean()) if len(pnl) else None,
        "profit_factor": float(pnl[pnl > 0].sum() / gross_loss) if gross_loss > 0 else None,
        "exposure": held / len(equity),
    }


def buy_and_hold(df: pd.DataFrame, p: dict):
    fee, slip, e0 = p["fee_bps"] / 1e4, p["slippage_bps"] / 1e4, p["initial_equity"]
    fill = df["Open"].iloc[0] * (1 + slip)
    notional = e0 / (1 + fee)
    entry_fee = notional * fee
    qty = notional / fill
    equity = (e0 - notional - entry_fee) + qty * df["Close"]
    pnl = qty * (df["Close"].iloc[-1] - fill) - entry_fee
    return equity, [{"pnl": pnl}], len(df)


def time_one(p: dict, runs: int = 30) -> None:
    """The baseline for the benchmark: one symbol (the last 2,520 bars) x one strategy
    (simulation, metrics and buy-and-hold; the crosses computed beforehand), median of `runs`,
    scaled to 500 symbols x 10 strategies."""
    df = pd.read_csv(SEED, parse_dates=["Date"], index_col="Date").iloc[-2520:]
    signal = crosses(df["Close"], p["fast"], p["slow"])
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        equity, trades, held = simulate(df, signal, False, p)
        metrics(equity, trades, held, p)
        metrics(*buy_and_hold(df, p), p)
        times.append(time.perf_counter() - started)
    one = sorted(times)[len(times) // 2]
    print(f"pandas, one symbol x one strategy, 2,520 bars: {one * 1e3:.2f} ms (median of {runs}); "
          f"x 500 symbols x 10 strategies = {one * 5000:.1f} s")


def main() -> int:
    p = PARAMS
    if "--time" in sys.argv[1:]:
        time_one(p)
        return 0
    df = pd.read_csv(SEED, parse_dates=["Date"], index_col="Date")
    assert df.index.is_monotonic_increasing and df.index.is_unique
    started = time.perf_counter()
    signal = crosses(df["Close"], p["fast"], p["slow"])
    out = dict(p)
    out["bars"] = len(df)
    for label, long_short in [("long_only", False), ("long_short", True)]:
        equity, trades, held = simulate(df, signal, long_short, p)
        out[label] = {"metrics": metrics(equity, trades, held, p), "trade_list": trades}
    out["buy_and_hold"] = metrics(*buy_and_hold(df, p), p)
    elapsed = time.perf_counter() - started
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(df)} bars, "
          f"{out['long_only']['metrics']['trades']} + {out['long_short']['metrics']['trades']} trades")
    print(f"one symbol, crosses + two strategies + buy-and-hold: {elapsed * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
