"""``smsd-crm analytics clv``: fit the future-value models to any exported transaction log."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import date
from pathlib import Path


def cmd_clv(args: argparse.Namespace) -> int:
    """Fit BG/NBD + Gamma-Gamma to a CSV (customer,date,amount); print the parameters, the
    log-likelihood and per-customer predictions for the next 52 weeks as CSV (lines starting with
    '#' are the fit)."""
    from ..analytics.clv import forecast
    from ..analytics.transactions import parse_transactions, summarize

    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    rows, errors = parse_transactions(text)
    if errors:
        for e in errors[:20]:
            print(f"{args.file}: {e}", file=sys.stderr)
        return 1
    end = None
    if args.calibration_end:
        try:
            end = date.fromisoformat(args.calibration_end)
        except ValueError:
            print(f"error: --calibration-end {args.calibration_end!r} is not a date like 2026-06-30", file=sys.stderr)
            return 2
    s = summarize(rows, end)
    if not s.customers:
        print(f"error: no customer bought on or before {s.calibration_end}", file=sys.stderr)
        return 1
    f = forecast(s.x, s.t_x, s.T, s.zbar, s.first_spend, weeks=args.weeks)
    out = sys.stdout
    out.write(f"# customers: {len(s.customers)}, repeat buyers: {int((s.x > 0).sum())}, "
              f"calibration end: {s.calibration_end}, time unit: weeks\n")
    out.write(f"# method: {f.method}" + (f" ({f.reason})" if f.reason else "") + "\n")
    if f.bgnbd:
        b = f.bgnbd
        out.write(f"# BG/NBD: r={b.r:.6g} alpha={b.alpha:.6g} a={b.a:.6g} b={b.b:.6g} "
                  f"log-likelihood={b.log_likelihood:.6f}\n")
    if f.gamma_gamma:
        g = f.gamma_gamma
        out.write(f"# Gamma-Gamma: p={g.p:.6g} q={g.q:.6g} gamma={g.gamma:.6g} "
                  f"log-likelihood={g.log_likelihood:.6f}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["customer", "x", "t_x", "T", "mean_spend", "p_alive", f"expected_purchases_{args.weeks:g}w",
                     "expected_spend_per_purchase", f"expected_revenue_{args.weeks:g}w", "holdout_purchases"])
    for i, customer in enumerate(s.customers):
        writer.writerow([customer, int(s.x[i]), f"{s.t_x[i]:.4f}", f"{s.T[i]:.4f}", f"{s.zbar[i]:.2f}",
                         f"{f.p_alive[i]:.4f}", f"{f.purchases[i]:.4f}", f"{f.spend_per_purchase[i]:.2f}",
                         f"{f.revenue[i]:.2f}", int(s.holdout[i])])
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    """Generate a seeded store history (customers of four classes, SMS orders and till sales with
    seasons, promos, complaints, opt-outs) into an empty shop database, for demos and benchmarks."""
    import asyncio
    import time

    from ..config import load_config
    from ..demo.shop import seed_history

    if not (1 <= args.customers <= 200_000 and 0.1 <= args.years <= 10):
        print("error: --customers 1-200000 and --years 0.1-10", file=sys.stderr)
        return 2
    settings = load_config(args.config, secrets=False)
    started = time.perf_counter()
    try:
        counts = asyncio.run(seed_history(settings, years=args.years, customers=args.customers, seed=args.seed))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if counts is None:
        print(f"error: {settings.database.path} already holds orders or sales; generated history goes only "
              "into a fresh database", file=sys.stderr)
        return 1
    print(", ".join(f"{n:,} {table}" for table, n in counts.items()) + f" in {time.perf_counter() - started:.1f} s")
    return 0


def add_parsers(sub, default_config: str) -> None:
    """Add ``analytics clv`` and ``seed-demo`` to the CLI."""
    seed = sub.add_parser("seed-demo", help="generate a seeded store history into an empty database",
                          description=cmd_seed_demo.__doc__)
    seed.add_argument("--years", type=float, default=3.0)
    seed.add_argument("--customers", type=int, default=2000)
    seed.add_argument("--seed", type=int, default=1, help="the same seed gives the same history")
    seed.add_argument("-c", "--config", default=default_config, help="config file")
    seed.set_defaults(func=cmd_seed_demo, verbose=False)
    analytics = sub.add_parser("analytics", help="CRM analytics on exported data", description="CRM analytics.")
    analytics_sub = analytics.add_subparsers(dest="analytics_command", required=True, metavar="ANALYTICSCOMMAND")
    clv = analytics_sub.add_parser("clv", help="fit the future-value models to a transaction CSV",
                                   description=cmd_clv.__doc__)
    clv.add_argument("file", help="CSV with columns customer,date,amount")
    clv.add_argument("--calibration-end", help="fit on purchases up to this date (YYYY-MM-DD); later ones are "
                                               "counted as holdout_purchases")
    clv.add_argument("--weeks", type=float, default=52.0, help="the prediction horizon (default 52)")
    clv.set_defaults(func=cmd_clv, verbose=False)
